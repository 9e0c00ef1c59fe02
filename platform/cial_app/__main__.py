from __future__ import annotations

from cial_app.main import main

main()
