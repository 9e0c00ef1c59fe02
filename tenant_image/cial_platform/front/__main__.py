from __future__ import annotations

from cial_platform.front.app import main

main()
