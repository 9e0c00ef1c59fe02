from cial_app.orchestrator_service.main import main

main()
