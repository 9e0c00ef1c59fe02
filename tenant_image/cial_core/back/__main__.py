from __future__ import annotations

from cial_core.back.app import main

main()
