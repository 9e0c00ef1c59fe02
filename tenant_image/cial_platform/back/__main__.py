from __future__ import annotations

from cial_platform.back.app import main

main()
