"""Waiting on real parts without sleeping a fixed time: poll until true or a deadline passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class DeadlineExceeded(AssertionError):
    pass


def wait_until(probe: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.2) -> T:
    """Call ``probe`` until it returns something truthy; return it, or fail naming ``what``.

    Exceptions from the probe count as "not yet" (a service that is still starting refuses
    connections), and the last one is reported when the deadline passes.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except Exception as error:
            last_error = error
        if time.monotonic() >= deadline:
            reason = f" (last error: {last_error!r})" if last_error else ""
            raise DeadlineExceeded(f"timed out after {timeout:.0f}s waiting for {what}{reason}")
        time.sleep(interval)
