from cial_app.router.main import main

main()
