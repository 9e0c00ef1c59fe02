from __future__ import annotations

from cial_core.front.app import main

main()
