"""Requests for an idle tenant are held while it starts, then served: the client sees only a
slower first answer.

One wake per tenant, however many requests arrive: the first starts it (through the App), the
others wait on the same outcome. A waiter that leaves (the client closed) leaves the wake
running for the rest. The hold is bounded:
- waiters per tenant and in all are capped: beyond, 503 with Retry-After (RFC 9110 §15.6.4);
- the wake has a deadline: past it, every waiter gets 504 (§15.6.5) and the next request tries
  again with a wake of its own;
- a start that fails answers every waiter 502 (§15.6.3) at once, and the next request tries
  again (a tenant in error because of a wake is woken again, one in error for another reason is
  left to the App's own repairs).

A request is forwarded only once the tenant is `running` in the route table (the App saw its
health check pass) AND the router itself had 200 from the tenant's health path, which answers
only once every service of the tenant does: never at "container running".
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from cial_proxy import NoRoute, RouteError, Unavailable, Upstream

from cial_app.router.activity import Activity
from cial_app.router.app_calls import Refused, TenantControl, Unreachable
from cial_app.router.table import RouteTable, TenantRoute

log = logging.getLogger(__name__)

HEALTH_PATH = "/.cial/api/healthz"
# Route states in which a request wakes the tenant rather than being refused.
SLEEPING = frozenset({"idle", "idling"})
_COMING_UP = frozenset({"provisioning", "starting"})
_OWNER_STOPPED = frozenset({"stopping", "stopped", "deleting"})

Ready = Callable[[TenantRoute], Awaitable[bool]]


class WakeFailed(RouteError):
    """The tenant could not be started (502): the next request tries again."""

    status = 502


class WakeTimedOut(RouteError):
    """The tenant did not become ready within the wake timeout (504)."""

    status = 504


@dataclass(frozen=True, slots=True)
class WakeLimits:
    # A start takes 2-3 s here, more when many tenants start at once (the App starts a few at a
    # time: its start slots); a browser gives up on its own after minutes, not seconds.
    timeout: float = 60.0
    max_waiting_per_tenant: int = 256
    max_waiting: int = 2048
    # How often the tenant's health path is asked once the App says it runs.
    probe_interval: float = 0.1
    retry_after: int = 5


@dataclass(eq=False)
class _Wake:
    slug: str
    outcome: asyncio.Future[None]
    serving: asyncio.Event = field(default_factory=asyncio.Event)
    saw_start: bool = False
    waiting: int = 0
    task: asyncio.Task[None] | None = None


async def probe_ready(route: TenantRoute) -> bool:
    """200 from the tenant's health path, over a fresh connection; False on anything else."""
    if route.upstream_host is None or route.upstream_port is None:
        return False
    try:
        async with asyncio.timeout(2.0):
            reader, writer = await asyncio.open_connection(route.upstream_host, route.upstream_port)
            try:
                writer.write(
                    f"GET {HEALTH_PATH} HTTP/1.1\r\nHost: {route.upstream_host}\r\n"
                    "Connection: close\r\n\r\n".encode()
                )
                await writer.drain()
                status_line = await reader.readline()
            finally:
                writer.close()
    except (OSError, TimeoutError):
        return False
    parts = status_line.split(b" ", 2)
    return len(parts) >= 2 and parts[1] == b"200"


class Waker:
    def __init__(
        self,
        table: RouteTable,
        control: TenantControl,
        activity: Activity,
        *,
        limits: WakeLimits | None = None,
        ready: Ready = probe_ready,
    ) -> None:
        self._table = table
        self._control = control
        self._activity = activity
        self.limits = limits or WakeLimits()
        self._ready = ready
        self._wakes: dict[str, _Wake] = {}
        self._waiting = 0
        # Tenants whose last wake failed or timed out: the next request wakes them again (from
        # `error`, or `running` in the table but never seen to answer), rather than meeting a
        # refusal or a tenant that is not ready.
        self._failed: set[str] = set()
        # How wakes ended: ready, failed (502), timed out (504), refused (the App said no).
        self.outcomes: Counter[str] = Counter()
        table.listen(self._changed)

    def should_wake(self, route: TenantRoute) -> bool:
        return route.state in SLEEPING or route.slug in self._wakes or route.slug in self._failed

    @property
    def held(self) -> int:
        """Requests held now, over all tenants."""
        return self._waiting

    def waiting_for(self, slug: str) -> int:
        """Requests held for the tenant now."""
        wake = self._wakes.get(slug)
        return 0 if wake is None else wake.waiting

    async def hold(self, route: TenantRoute) -> None:
        """Until the tenant is ready; raises the refusal the client gets otherwise."""
        slug, limits = route.slug, self.limits
        wake = self._wakes.get(slug)
        if self._waiting >= limits.max_waiting or (
            wake is not None and wake.waiting >= limits.max_waiting_per_tenant
        ):
            raise Unavailable(
                f"Tenant {slug!r} is starting and too many requests are waiting for it; try again shortly.",
                retry_after=limits.retry_after,
            )
        if wake is None:
            wake = self._begin(route)
        wake.waiting += 1
        self._waiting += 1
        self._activity.begin(slug)  # a held request is traffic: the tenant is not idle
        try:
            # Shielded: a client that leaves cancels its own wait, never the wake of the others.
            await asyncio.shield(wake.outcome)
        finally:
            wake.waiting -= 1
            self._waiting -= 1
            self._activity.end(slug)

    async def aclose(self) -> None:
        tasks = [wake.task for wake in self._wakes.values() if wake.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    # ---------------------------------------------------------------------------- one wake

    def _begin(self, route: TenantRoute) -> _Wake:
        loop = asyncio.get_running_loop()
        wake = _Wake(route.slug, loop.create_future())
        # Retrieved even when every waiter has left, so an outcome nobody reads is not logged.
        wake.outcome.add_done_callback(lambda done: None if done.cancelled() else done.exception())
        wake.saw_start = route.state in _COMING_UP
        self._wakes[route.slug] = wake
        wake.task = loop.create_task(self._run(wake), name=f"wake {route.slug}")
        return wake

    async def _run(self, wake: _Wake) -> None:
        slug, limits = wake.slug, self.limits
        started = asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(limits.timeout):
                await self._wake(wake)
            if not wake.outcome.done():
                took = asyncio.get_running_loop().time() - started
                log.info("tenant %s: woken, ready after %.2f s", slug, took)
                self._failed.discard(slug)
                self._finish(wake, None)
        except TimeoutError:
            log.warning("tenant %s: not ready %g s after its wake", slug, limits.timeout)
            self._finish(wake, WakeTimedOut(f"Tenant {slug!r} did not start within {limits.timeout:g} s."))
        except RouteError as refusal:
            self._finish(wake, refusal)
        except asyncio.CancelledError:
            self._finish(wake, Unavailable("The router is stopping.", retry_after=limits.retry_after))
            raise
        finally:
            if self._wakes.get(slug) is wake:
                del self._wakes[slug]

    def _finish(self, wake: _Wake, refusal: RouteError | None) -> None:
        """The wake's one outcome, for every waiter; later calls change nothing. A wake that
        failed or timed out makes the next request wake the tenant again."""
        if wake.outcome.done():
            return
        if isinstance(refusal, WakeFailed | WakeTimedOut):
            self._failed.add(wake.slug)
        elif isinstance(refusal, NoRoute):
            self._failed.discard(wake.slug)
        self.outcomes[_OUTCOMES.get(type(refusal), "refused")] += 1
        if refusal is not None:
            log.warning("tenant %s: wake ended: %s", wake.slug, refusal.message)
        _settle(wake, refusal)

    async def _wake(self, wake: _Wake) -> None:
        slug = wake.slug
        try:
            await self._control.wake(slug)
        except Refused as refused:
            if refused.status == 404:
                raise NoRoute(f"No tenant is called {slug!r}.") from None
            raise Unavailable(
                f"Tenant {slug!r}: {refused.reason}", retry_after=self.limits.retry_after
            ) from None
        except Unreachable as error:
            raise WakeFailed(f"Tenant {slug!r} could not be started: {error}.") from None
        self._changed(slug)  # it may already be running (a wake of a tenant the table had stale)
        while not wake.outcome.done():
            await wake.serving.wait()
            route = self._table.get(slug)
            if route is not None and route.serving and await self._ready(route):
                return
            wake.serving.clear()
            self._changed(slug)  # still serving but not answering yet: look again shortly
            if not wake.outcome.done():
                await asyncio.sleep(self.limits.probe_interval)

    def _changed(self, slug: str | None) -> None:
        """A route changed (None: all of them): move each wake of it along."""
        wakes = list(self._wakes.values()) if slug is None else [w for w in [self._wakes.get(slug)] if w]
        for wake in wakes:
            route = self._table.get(wake.slug)
            if route is None:
                self._finish(wake, NoRoute(f"No tenant is called {wake.slug!r}."))
            elif route.serving:
                wake.serving.set()
            elif route.state in _COMING_UP:
                wake.saw_start = True
            elif route.state == "error" and wake.saw_start:
                self._finish(
                    wake,
                    WakeFailed(
                        f"Tenant {wake.slug!r} could not be started; its owner can see why in the admin. "
                        "The next request tries again."
                    ),
                )
            elif route.state in _OWNER_STOPPED:
                self._finish(
                    wake,
                    Unavailable(
                        f"Tenant {wake.slug!r} was stopped by its owner.", retry_after=self.limits.retry_after
                    ),
                )


_OUTCOMES: dict[type[RouteError] | type[None], str] = {
    type(None): "ready",
    WakeFailed: "failed",
    WakeTimedOut: "timed_out",
}


def _settle(wake: _Wake, refusal: RouteError | None) -> None:
    if wake.outcome.done():
        return
    if refusal is None:
        wake.outcome.set_result(None)
    else:
        wake.outcome.set_exception(refusal)
        if wake.task is not None and wake.task is not asyncio.current_task():
            wake.task.cancel()


class IdleResolver:
    """The engine's Resolver: the route table, holding requests of sleeping tenants while the
    waker brings them up. Without a waker (no App to call), a sleeping tenant gets 503."""

    def __init__(self, table: RouteTable, waker: Waker | None = None) -> None:
        self._table = table
        self._waker = waker

    async def resolve(self, host: str, path: str) -> Upstream:
        table = self._table
        if not table.loaded:
            raise Unavailable(
                "The router has not loaded its routes yet (database unreachable).", retry_after=5
            )
        route = table.route_of(host)
        waker = self._waker
        if waker is not None and waker.should_wake(route):
            await waker.hold(route)
            route = table.get(route.slug) or route
        return table.upstream_of(route, path)
