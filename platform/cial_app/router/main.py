"""The router process: the proxy engine on :8080 with the route table as its resolver, the feed
that keeps the table current, and the metrics listener. `python -m cial_app.router`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from cial_proxy import GRACEFUL_SHUTDOWN_SECONDS, Unavailable, Upstream, create_proxy, new_event_loop

from cial_app.router.control import ControlServer
from cial_app.router.feed import RouteFeed
from cial_app.router.metrics import RouterMetrics
from cial_app.router.table import RouteTable

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
            ws_ping_seconds=float(env.get("CIAL_ROUTER_WS_PING_SECONDS", "20")),
            ws_ping_timeout_seconds=float(env.get("CIAL_ROUTER_WS_PING_TIMEOUT_SECONDS", "20")),
        )


class TableResolver:
    """The engine's Resolver over the route table; refuses with 503 until routes were ever loaded."""

    def __init__(self, table: RouteTable) -> None:
        self._table = table

    async def resolve(self, host: str, path: str) -> Upstream:
        if not self._table.loaded:
            raise Unavailable(
                "The router has not loaded its routes yet (database unreachable).", retry_after=5
            )
        return self._table.resolve(host, path)


async def run(settings: RouterSettings, stop: asyncio.Event) -> None:
    table = RouteTable(settings.admin_url)
    metrics = RouterMetrics()
    control = ControlServer(
        metrics.exposition, refused_networks=list(settings.tenant_networks), healthy=lambda: table.loaded
    )
    await control.start(settings.control_host, settings.control_port)

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
        TableResolver(table),
        name="router",
        strip_cookies=APP_COOKIES,
        observer=metrics,
        websocket_ping_interval=settings.ws_ping_seconds,
        websocket_ping_timeout=settings.ws_ping_timeout_seconds,
    )
    feeding = asyncio.create_task(feed.run(), name="route feed")
    await proxy.start(settings.host, settings.port)
    log.info("router on :%d, control (metrics, probes) on :%d", settings.port, settings.control_port)
    try:
        await stop.wait()
    finally:
        await proxy.stop(GRACEFUL_SHUTDOWN_SECONDS)
        await control.stop()
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
