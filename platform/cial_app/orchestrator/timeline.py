"""How long each step of a slow engine operation took, for one log line a user can read."""

from __future__ import annotations

import time
from collections.abc import Callable


class Timeline:
    """Marks since the previous mark: ``str()`` reads "812 ms (network 102, start 640, router 0)".

    A step that overlapped the previous one (run on the side and joined later) shows what it
    still cost after that one ended, which is what it added to the whole."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._began = self._last = clock()
        self._steps: list[tuple[str, float]] = []

    def mark(self, step: str) -> None:
        now = self._clock()
        self._steps.append((step, now - self._last))
        self._last = now

    def __str__(self) -> str:
        total = (self._last - self._began) * 1000
        steps = ", ".join(f"{step} {seconds * 1000:.0f}" for step, seconds in self._steps)
        return f"{total:.0f} ms ({steps})" if steps else f"{total:.0f} ms"
