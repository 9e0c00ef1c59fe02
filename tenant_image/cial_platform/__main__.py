from __future__ import annotations

from cial_platform.launch import main

raise SystemExit(main())
