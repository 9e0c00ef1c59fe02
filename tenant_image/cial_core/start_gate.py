"""The edge's start gate: requests wait while the tenant starts, instead of meeting a 502.

The edge listens first (so Docker's port answers at once) and the services behind it come up
over the next second or so, the platform last. Until every one of them has been seen listening,
a request is held (up to ``hold`` seconds, then 503 with Retry-After); once they all have, the
gate opens for good and costs one attribute check per request. So the first 200 of any route,
core back's health (the image's HEALTHCHECK) and the App's `running` all mean the same thing:
every route of the tenant answers.

The gate also opens when the start-up window has passed with a service still missing: Core's
pages must stay reachable (and a broken platform show as 502, its own fault) rather than hold
every request of the tenant forever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from cial_core.readiness import Readiness

POLL_SECONDS = 0.02

_log = logging.getLogger("cial_core.edge")


class StartGate:
    def __init__(
        self,
        readiness: Readiness,
        *,
        window: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._readiness = readiness
        self._clock = clock
        self._began = clock()  # made just before the services start (edge.prepare)
        self._until = self._began + window
        self._opened: asyncio.Event | None = None
        self._watching: asyncio.Task[None] | None = None
        self.is_open = False

    async def passed(self, hold: float) -> bool:
        """True once the gate is open, waiting for it at most ``hold`` seconds."""
        if self.is_open:
            return True
        if self._opened is None:  # the event and the watch belong to the serving loop
            self._opened = asyncio.Event()
            self._watching = asyncio.get_running_loop().create_task(self._watch(self._opened))
        try:
            async with asyncio.timeout(hold):
                await self._opened.wait()
        except TimeoutError:
            return False
        return True

    async def _watch(self, opened: asyncio.Event) -> None:
        while waiting := await self._readiness.waiting_for():
            if self._clock() >= self._until:
                _log.warning("start-up window over; serving without %s", ", ".join(waiting))
                break
            await asyncio.sleep(POLL_SECONDS)
        else:
            _log.info("every service listens, +%.0f ms: serving", (self._clock() - self._began) * 1000)
        self.is_open = True
        opened.set()
