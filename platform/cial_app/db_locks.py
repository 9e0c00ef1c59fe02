"""Postgres advisory locks: one migrator at a time, and one App process per database.

Both are held on a connection of their own, outside the pool: an advisory lock belongs to the
session that took it, and a pooled connection would hand it to whatever query comes next. Both
are released by Postgres itself when that connection ends, also when the process dies.

SQLite needs neither: the App reaches it in-process only, as one process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from piccolo.engine.postgres import PostgresEngine

log = logging.getLogger(__name__)

# The two-key form of Postgres' advisory locks: ('cial' as an int32, which lock). Advisory locks
# are per database, so Apps on two databases of one server never meet.
_NAMESPACE = 0x6369616C
_SOLE_APP = 1
_MIGRATIONS = 2
# Named when the holder left between the failed try and the look-up.
_GONE = "a session that has just ended"
# Postgres keeps application_name to 63 bytes.
_NAME_MAX = 63


class AppAlreadyRunning(Exception):
    """Another App process holds this database; two would each act on the same tenants."""


class MigrationLockTimeout(Exception):
    """Another process kept migrating (or hung while holding the migration lock) too long."""


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a lock, as Postgres sees the session."""

    pid: int
    application: str
    client: str | None
    since: str

    def __str__(self) -> str:
        where = f" from {self.client}" if self.client else ""
        name = self.application or "unnamed"
        return f"'{name}' (Postgres backend {self.pid}{where}, connected since {self.since})"


def process_name(instance: str) -> str:
    """What this process calls itself on its lock connections: enough to find it."""
    return f"cial-app {instance} {socket.gethostname()} pid {os.getpid()}"[:_NAME_MAX]


@asynccontextmanager
async def migration_lock(
    engine: PostgresEngine, *, name: str, wait_seconds: float = 120.0
) -> AsyncIterator[None]:
    """Hold the migration lock: a second App booting at once waits here, then finds the
    migrations applied, instead of racing to create the same tables."""
    connection = await _connect(engine, name)
    try:
        # lock_timeout bounds the wait for an advisory lock as for any other.
        await connection.execute(f"SET lock_timeout = {int(wait_seconds * 1000)}")
        started = time.monotonic()
        try:
            await connection.execute("SELECT pg_advisory_lock($1, $2)", _NAMESPACE, _MIGRATIONS)
        except asyncpg.exceptions.LockNotAvailableError as error:
            holder = await _holder(connection, _MIGRATIONS) or _GONE
            raise MigrationLockTimeout(
                f"waited {wait_seconds:g} s for the migration lock, held by {holder}"
            ) from error
        waited = time.monotonic() - started
        if waited > 1:
            log.info("waited %.1f s for another process's migrations", waited)
        yield
    finally:
        # Closing the session releases the lock, also when the migration failed.
        await connection.close()


class SoleApp:
    """This process's claim to be the one App on its database, held for the App's lifetime.

    The App keeps per-tenant locks, job slots and backoffs in memory and sweeps the engine for
    what its database does not know: a second App process on the same database would act on the
    same tenants behind those locks. So a second one refuses to start, naming the first.
    """

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    @classmethod
    async def claim(cls, engine: PostgresEngine, *, name: str, wait_seconds: float = 10.0) -> SoleApp:
        """Take the claim, waiting a little for an App that is stopping (a restart) to let go."""
        connection = await _connect(engine, name)
        try:
            deadline = time.monotonic() + wait_seconds
            while not await connection.fetchval("SELECT pg_try_advisory_lock($1, $2)", _NAMESPACE, _SOLE_APP):
                if time.monotonic() >= deadline:
                    holder = await _holder(connection, _SOLE_APP) or _GONE
                    raise AppAlreadyRunning(
                        f"another App process already runs on this database: {holder}. "
                        "Two would act on the same tenants at once (their locks live in each process's "
                        "memory); stop that one first, or give this one a database of its own."
                    )
                await asyncio.sleep(0.5)
        except BaseException:
            await connection.close()
            raise
        return cls(connection)

    async def release(self) -> None:
        await self._connection.close()


async def _connect(engine: PostgresEngine, name: str) -> Any:
    connection = await engine.get_new_connection()
    try:
        await connection.execute("SELECT set_config('application_name', $1, false)", name)
    except BaseException:
        await connection.close()
        raise
    return connection


async def _holder(connection: Any, which: int) -> Holder | None:
    # The two-key form shows in pg_locks as classid, objid and objsubid = 2.
    row = await connection.fetchrow(
        """
        SELECT a.pid, a.application_name, host(a.client_addr) AS client, a.backend_start
        FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
          AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        """,
        _NAMESPACE,
        which,
    )
    if row is None:
        return None
    since = row["backend_start"].isoformat(timespec="seconds") if row["backend_start"] else "?"
    return Holder(
        pid=row["pid"], application=row["application_name"] or "", client=row["client"], since=since
    )
