"""Waiting on real parts without sleeping a fixed time: retry until true, or fail saying what."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class NeverHappened(AssertionError):
    """`eventually` timed out; the message names what was awaited and the last answer seen."""


class GiveUp(AssertionError):
    """Raised by a probe that knows the awaited thing will not come: `eventually` stops at once."""


def _failure(what: str, timeout: float, last: object) -> NeverHappened:
    return NeverHappened(f"timed out after {timeout:g}s waiting for {what} (last: {last!r})")


def eventually(fn: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.2) -> T:
    """Call `fn` until it returns something truthy and return that.

    `fn` is a predicate, a probe that returns the awaited value once it is there, or an asserting
    function that returns True: an exception it raises (a failed assert, a refused connection of a
    service still starting) counts as "not yet", except `GiveUp`, which ends the wait at once. On
    timeout, raise an AssertionError (`NeverHappened`) naming `what` and the last value or error.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = fn()
            if value:
                return value
            last: object = value
        except GiveUp:
            raise
        except Exception as error:
            last = error
        if time.monotonic() >= deadline:
            raise _failure(what, timeout, last)
        time.sleep(interval)


async def eventually_async(
    fn: Callable[[], Awaitable[T | None]],
    *,
    timeout: float,  # noqa: ASYNC109  (a polling deadline, not a cancel scope)
    what: str,
    interval: float = 0.2,
) -> T:
    """`eventually` for a coroutine function; the loop's clock measures the timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            value = await fn()
            if value:
                return value
            last: object = value
        except GiveUp:
            raise
        except Exception as error:
            last = error
        if loop.time() >= deadline:
            raise _failure(what, timeout, last)
        await asyncio.sleep(interval)
