"""Stopping tenants nobody uses: the router's idle keeper.

Every tick it looks for running tenants with no traffic (router.activity) for their idle time
(the tenant's `idle_after_seconds`; None: never). Such a tenant is drained first: marked, its
WebSockets (if one opened in the race) closed with 1001 Going Away (RFC 6455 §7.4.1), and after
a short grace, if nothing arrived meanwhile, the route is marked `idling` (from here a request
is held and wakes it again: router.waking) and the App is asked to stop it. A request during the
grace cancels the stop; one after it waits for the stop, then for the start: one stop, one start,
no error. A request longer than the idle time is never cut: a tenant with one in flight is busy.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable

from cial_app.router.activity import Activity
from cial_app.router.app_calls import TenantControl, Unreachable
from cial_app.router.table import RouteTable

log = logging.getLogger(__name__)

CloseWebSockets = Callable[[str], int]


def _no_websockets(_: str) -> int:
    return 0


class IdleKeeper:
    def __init__(
        self,
        table: RouteTable,
        activity: Activity,
        control: TenantControl,
        *,
        tick: float = 1.0,
        drain_grace: float = 1.0,
        close_websockets: CloseWebSockets = _no_websockets,
    ) -> None:
        self._table = table
        self._activity = activity
        self._control = control
        self._tick = tick
        self._grace = drain_grace
        self._close_websockets = close_websockets
        self._drains: dict[str, asyncio.Task[None]] = {}
        self.stopped = 0  # tenants the App was asked to stop, for metrics and tests
        table.listen(self._forget_deleted)

    def _forget_deleted(self, slug: str | None) -> None:
        """What the activity knows of deleted tenants goes with them (one router, many tenants
        created and deleted over months)."""
        gone = [s for s in self._activity.known() if self._table.get(s) is None] if slug is None else [slug]
        for name in gone:
            if self._table.get(name) is None:
                self._activity.forget(name)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._tick)
            self.sweep()

    def sweep(self) -> list[str]:
        """Begin draining every tenant idle for its idle time; returns their slugs."""
        begun = []
        for route in self._table.routes():
            slug, limit = route.slug, route.idle_after_seconds
            if limit is None or not route.serving or slug in self._drains:
                continue
            if self._activity.idle_for(slug) < limit:
                continue
            task = asyncio.get_running_loop().create_task(self._drain(slug), name=f"drain {slug}")
            self._drains[slug] = task
            task.add_done_callback(self._forget_drain)
            begun.append(slug)
        return begun

    def _forget_drain(self, task: asyncio.Task[None]) -> None:
        for slug, drain in list(self._drains.items()):
            if drain is task:
                del self._drains[slug]

    async def settle(self) -> None:
        """Until every drain begun has ended (tests)."""
        while self._drains:
            await asyncio.wait(list(self._drains.values()))

    async def aclose(self) -> None:
        tasks = list(self._drains.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    async def _drain(self, slug: str) -> None:
        activity = self._activity
        mark = activity.mark(slug)
        closed = self._close_websockets(slug)
        if closed:
            log.info("tenant %s: closed %d WebSocket(s) with 1001 before stopping it", slug, closed)
        if self._grace > 0:
            await asyncio.sleep(self._grace)
        route = self._table.get(slug)
        if route is None or not route.serving or activity.busy(slug) or activity.mark(slug) != mark:
            log.info("tenant %s: traffic arrived while it drained; not stopped", slug)
            return
        # From here a request waits for the tenant to wake instead of reaching a machine that
        # is being stopped; the App's own `idling` follows as a notification.
        self._table.put(dataclasses.replace(route, state="idling", upstream_host=None, upstream_port=None))
        try:
            stopping = await self._control.idle(slug)
        except Unreachable as error:
            log.warning("tenant %s: idle, but the App could not be asked to stop it: %s", slug, error)
            stopping = False
        if stopping:
            self.stopped += 1
            log.info("tenant %s: idle for %g s; the App is stopping it", slug, route.idle_after_seconds or 0)
            return
        current = self._table.get(slug)
        if current is not None and current.state == "idling" and current.upstream_host is None:
            self._table.put(route)  # as it was: the App refused, or did not answer
