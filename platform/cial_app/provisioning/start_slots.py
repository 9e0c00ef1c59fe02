"""How many tenants boot at once.

A tenant's boot is CPU-bound (two interpreters importing their web stacks: about a CPU-second
each here), so starting a hundred at once makes every one of them slow, and past the health
deadline some fail that would have started fine a few seconds later (bench/density.py saw it).
Bring-ups therefore take a slot; the rest wait their turn, first come first served, and the
deadline of a tenant's health check counts from when it got its slot. Stops and deletes take
none: they free resources.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


def default_start_slots() -> int:
    """Two boots per core: one's I/O waits (the engine, the health check) overlap the other's CPU."""
    return 2 * (os.cpu_count() or 1)


class StartSlots:
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"at least one tenant must be able to start (got {limit})")
        self.limit = limit
        self._free = asyncio.Semaphore(limit)
        self.starting = 0
        self.waiting = 0

    @property
    def full(self) -> bool:
        return self._free.locked()

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        self.waiting += 1
        try:
            await self._free.acquire()
        finally:
            self.waiting -= 1
        self.starting += 1
        try:
            yield
        finally:
            self.starting -= 1
            self._free.release()
