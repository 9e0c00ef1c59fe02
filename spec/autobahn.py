"""Autobahn's WebSocket test cases against a URL, via kosoku (a native runner of the suite's cases).

    failed = run_suite("ws://127.0.0.1:8080/.cial/api/ws", include=["1.*", "9.*"])

Returns the cases that did not pass, with what kosoku said about them; an empty dict means every
selected case passed ("OK", or the suite's "NON-STRICT"/"INFORMATIONAL", which it counts as
passes). Groups 12 and 13 (permessage-deflate) only apply where compression is offered; the
proxies do not offer it, so they are not in :data:`DEFAULT_GROUPS`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_GROUPS = ("1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.*", "10.*")
PASSING = frozenset({"OK", "NON-STRICT", "INFORMATIONAL"})


def kosoku() -> str:
    """The kosoku executable beside this interpreter (the virtualenv's), else on PATH."""
    beside = Path(sys.executable).with_name("kosoku")
    if beside.exists():
        return str(beside)
    found = shutil.which("kosoku")
    if found is None:
        raise FileNotFoundError("kosoku is not installed (pip install kosoku)")
    return found


def run_suite(
    url: str,
    *,
    include: Sequence[str] = DEFAULT_GROUPS,
    exclude: Sequence[str] = (),
    timeout: float = 900,
) -> dict[str, str]:
    """Run the cases ``include`` selects (ids or globs) against ``url``; return {case: why} for
    every case that did not pass. Raises if the runner itself fails or reports nothing."""
    return failures(run_cases(url, include=include, exclude=exclude, timeout=timeout))


def run_cases(
    url: str,
    *,
    include: Sequence[str] = DEFAULT_GROUPS,
    exclude: Sequence[str] = (),
    timeout: float = 900,
) -> dict[str, dict[str, Any]]:
    """Run the cases and return kosoku's result for each ({"behavior", "behaviorClose",
    "duration" (ms), "remoteCloseCode", ...}), by case id."""
    with tempfile.TemporaryDirectory(prefix="cial-autobahn-") as out:
        args = [kosoku(), "-m", "fuzzingclient", "-o", out]
        for case in include:
            args += ["-i", case]
        for case in exclude:
            args += ["-x", case]
        done = subprocess.run([*args, url], capture_output=True, text=True, timeout=timeout)
        index_file = Path(out) / "index.json"
        if not index_file.exists():
            raise RuntimeError(
                f"kosoku wrote no report (exit {done.returncode}): {done.stderr or done.stdout}"
            )
        index: dict[str, dict[str, dict[str, Any]]] = json.loads(index_file.read_text())
    cases = {case: result for agent in index.values() for case, result in agent.items()}
    if not cases:
        raise RuntimeError(f"kosoku ran no case: {done.stdout}")
    return cases


def failures(cases: dict[str, dict[str, Any]]) -> dict[str, str]:
    """{case: why} for each case whose behaviour or closing behaviour is not a pass."""
    return {
        case: f"behavior={result.get('behavior')} close={result.get('behaviorClose')} "
        f"code={result.get('remoteCloseCode')}"
        for case, result in sorted(cases.items(), key=lambda item: _order(item[0]))
        if result.get("behavior") not in PASSING or result.get("behaviorClose") not in PASSING
    }


def _order(case: str) -> tuple[int, ...]:
    return tuple(int(part) for part in case.split(".") if part.isdigit())
