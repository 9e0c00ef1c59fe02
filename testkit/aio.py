"""Running a coroutine from a synchronous test, whatever else that thread is doing.

Playwright's sync API keeps an event loop running in the test thread while a browser is open
(module-scoped in the specs), and tests run in random order: `asyncio.run` there raises
"cannot be called from a running event loop". A worker thread has no loop of its own, so the
coroutine always gets a fresh one there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_async(factory: Callable[[], Coroutine[Any, Any, T]], *, timeout: float = 300) -> T:
    """``asyncio.run(factory())`` on a thread of its own; its result, or its exception, here."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-async") as pool:
        return pool.submit(lambda: asyncio.run(factory())).result(timeout=timeout)
