"""Print the requirements of one or more extras of pyproject.toml, one per line.

The images install their dependencies from a host-side wheelhouse; this is the single
place that turns the pyproject's extras into the requirement files they install from.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def main(extras: list[str]) -> int:
    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    optional: dict[str, list[str]] = project["project"]["optional-dependencies"]
    unknown = [name for name in extras if name not in optional]
    if unknown:
        print(f"unknown extra(s): {', '.join(unknown)}; known: {', '.join(optional)}", file=sys.stderr)
        return 2
    seen: list[str] = []
    for name in extras:
        for requirement in optional[name]:
            if requirement not in seen:
                seen.append(requirement)
    print("\n".join(seen))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
