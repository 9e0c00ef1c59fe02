"""Keeps a RouteTable in step with the tenants table.

LISTEN first, then load every tenant, so no change can fall between the load and the listening;
then each notification updates one route as it commits. A notification can still be missed (the
connection drops, Postgres restarts): the whole table is reloaded every `resync_seconds` and on
every reconnect, so a missed change lives a few seconds at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from cial_app.router.table import RouteTable, TenantRoute
from cial_app.tenants.changes import CHANNEL

log = logging.getLogger(__name__)

_ALL = "SELECT slug, state, upstream_host, upstream_port, idle_after_seconds FROM tenants"


class RouteFeed:
    def __init__(
        self,
        dsn: str,
        table: RouteTable,
        *,
        resync_seconds: float = 5.0,
        on_reload: Callable[[], None] | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._dsn = dsn
        self._table = table
        self._resync = resync_seconds
        self._on_reload = on_reload or (lambda: None)
        self._on_change = on_change or (lambda: None)
        self.connected = asyncio.Event()

    async def run(self) -> None:
        """Forever: connect, listen, load, and reload on a timer; reconnect after any failure."""
        failing: str | None = None
        while True:
            try:
                await self._session()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as error:
                self.connected.clear()
                text = f"{type(error).__name__}: {error}"
                if text != failing:  # once, not every second while Postgres is down
                    log.warning("route feed: database unreachable (%s); serving the last known routes", text)
                failing = text
                await asyncio.sleep(1.0)
            else:
                failing = None

    async def _session(self) -> None:
        connection = await asyncpg.connect(self._dsn, timeout=5)
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        try:
            await connection.add_listener(CHANNEL, self._heard)
            await self._load(connection)
            self.connected.set()
            log.info("route feed: listening; %d tenants known", len(self._table))
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self._resync)
                if not lost.is_set():
                    await self._load(connection)
            raise ConnectionResetError("the database connection was closed")
        finally:
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)

    async def _load(self, connection: Any) -> None:
        rows = await connection.fetch(_ALL, timeout=5)
        self._table.replace_all(
            [
                TenantRoute(
                    r["slug"], r["state"], r["upstream_host"], r["upstream_port"], r["idle_after_seconds"]
                )
                for r in rows
            ]
        )
        self._on_reload()

    def _heard(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            change = json.loads(payload)
            slug = str(change["slug"])
            if change.get("kind") == "deleted":
                self._table.remove(slug)
            else:
                self._table.put(
                    TenantRoute(
                        slug,
                        str(change["state"]),
                        change.get("upstream_host"),
                        change.get("upstream_port"),
                        change.get("idle_after_seconds"),
                    )
                )
        except (ValueError, KeyError, TypeError):
            log.warning("route feed: ignored a malformed notification")
            return
        self._on_change()
