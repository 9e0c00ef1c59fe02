"""The router process: the proxy engine on :8080 with the route table as its resolver, the feed
that keeps the table current, and the metrics listener. `python -m cial_app.router`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from cial_proxy import GRACEFUL_SHUTDOWN_SECONDS, create_proxy, new_event_loop

from cial_app.router.activity import Activity, Observers
from cial_app.router.app_calls import AppControl
from cial_app.router.control import ControlServer
from cial_app.router.feed import RouteFeed
from cial_app.router.idle import IdleKeeper
from cial_app.router.metrics import RouterMetrics
from cial_app.router.table import RouteTable
from cial_app.router.waking import IdleResolver, WakeLimits, Waker

log = logging.getLogger("cial_app.router")

# The App's own cookies (auth.cookies.SESSION_COOKIE and the admin's form token): a tenant never
# receives them, so tenant code can never replay the owner's App session. A fast test keeps these
# names equal to the App's.
APP_COOKIES = ("cial_session", "cial_csrf")


@dataclass(frozen=True, slots=True)
class RouterSettings:
    database_url: str
    host: str = "0.0.0.0"
    port: int = 8080
    control_host: str = "0.0.0.0"
    control_port: int = 8081
    # Peers inside these networks (the tenants') get nothing from the control listener.
    tenant_networks: tuple[str, ...] = ()
    resync_seconds: float = 5.0
    admin_url: str = "http://localhost:3100/admin"
    # The App, for the two calls of idle tenants (router.app_calls); without both, tenants never
    # go idle and an idle one (stopped by another router) gets 503.
    app_url: str | None = None
    router_token: str | None = field(default=None, repr=False)
    idle_tick_seconds: float = 1.0
    idle_drain_seconds: float = 1.0
    wake: WakeLimits = field(default_factory=WakeLimits)
    # A WebSocket client silent this long gets a ping; one that then stays silent this long is
    # closed, so a client gone without a FIN does not keep its tenant awake.
    ws_ping_seconds: float = 20.0
    ws_ping_timeout_seconds: float = 20.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> RouterSettings:
        url = env.get("DATABASE_URL", "")
        if not url.startswith(("postgres://", "postgresql://")):
            raise SystemExit("DATABASE_URL must be the postgresql:// URL of the App's database")
        return cls(
            database_url=url,
            port=int(env.get("CIAL_ROUTER_PORT", "8080")),
            control_port=int(env.get("CIAL_ROUTER_CONTROL_PORT", "8081")),
            tenant_networks=tuple(
                n.strip() for n in env.get("CIAL_TENANT_SUBNET_POOL", "").split(",") if n.strip()
            ),
            resync_seconds=float(env.get("CIAL_ROUTER_RESYNC_SECONDS", "5")),
            admin_url=env.get("CIAL_ADMIN_URL", "http://localhost:3100/admin"),
            app_url=env.get("CIAL_APP_URL") or None,
            router_token=env.get("CIAL_ROUTER_TOKEN") or None,
            idle_tick_seconds=float(env.get("CIAL_IDLE_TICK_SECONDS", "1")),
            idle_drain_seconds=float(env.get("CIAL_IDLE_DRAIN_SECONDS", "1")),
            wake=WakeLimits(
                timeout=float(env.get("CIAL_WAKE_TIMEOUT_SECONDS", "60")),
                max_waiting_per_tenant=int(env.get("CIAL_WAKE_MAX_WAITING_PER_TENANT", "256")),
                max_waiting=int(env.get("CIAL_WAKE_MAX_WAITING", "2048")),
            ),
            ws_ping_seconds=float(env.get("CIAL_ROUTER_WS_PING_SECONDS", "20")),
            ws_ping_timeout_seconds=float(env.get("CIAL_ROUTER_WS_PING_TIMEOUT_SECONDS", "20")),
        )


async def run(settings: RouterSettings, stop: asyncio.Event) -> None:
    table = RouteTable(settings.admin_url)
    metrics = RouterMetrics()
    activity = Activity(time.monotonic)
    control: AppControl | None = None
    waker: Waker | None = None
    if settings.app_url and settings.router_token:
        control = AppControl(settings.app_url, settings.router_token)
        waker = Waker(table, control, activity, limits=settings.wake)
    else:
        log.info("no CIAL_APP_URL and CIAL_ROUTER_TOKEN: tenants are never stopped for being idle")
    control_server = ControlServer(
        metrics.exposition, refused_networks=list(settings.tenant_networks), healthy=lambda: table.loaded
    )
    await control_server.start(settings.control_host, settings.control_port)

    def reloaded() -> None:
        metrics.route_reloads.inc()
        metrics.routes.set(len(table))

    def changed() -> None:
        metrics.route_changes.inc()
        metrics.routes.set(len(table))

    feed = RouteFeed(
        settings.database_url,
        table,
        resync_seconds=settings.resync_seconds,
        on_reload=reloaded,
        on_change=changed,
    )
    proxy = create_proxy(
        IdleResolver(table, waker),
        name="router",
        strip_cookies=APP_COOKIES,
        observer=Observers(metrics, activity),
        websocket_ping_interval=settings.ws_ping_seconds,
        websocket_ping_timeout=settings.ws_ping_timeout_seconds,
    )
    feeding = asyncio.create_task(feed.run(), name="route feed")
    keeper: IdleKeeper | None = None
    keeping: asyncio.Task[None] | None = None
    if control is not None:
        keeper = IdleKeeper(
            table,
            activity,
            control,
            tick=settings.idle_tick_seconds,
            drain_grace=settings.idle_drain_seconds,
            close_websockets=proxy.close_websockets,
        )
        keeping = asyncio.create_task(keeper.run(), name="idle keeper")
        if waker is not None:
            metrics.watch_idle(waker, keeper)
    await proxy.start(settings.host, settings.port)
    log.info("router on :%d, control (metrics, probes) on :%d", settings.port, settings.control_port)
    try:
        await stop.wait()
    finally:
        if keeping is not None:
            keeping.cancel()
        if keeper is not None:
            await keeper.aclose()
        if waker is not None:
            await waker.aclose()
        await proxy.stop(GRACEFUL_SHUTDOWN_SECONDS)
        await control_server.stop()
        if control is not None:
            await control.aclose()
        feeding.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeding


def main() -> None:
    logging.basicConfig(
        stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = RouterSettings.from_env()
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        loop.run_until_complete(run(settings, stop))
    finally:
        loop.close()
