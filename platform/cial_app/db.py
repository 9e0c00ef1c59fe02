"""The database: which engine, binding the tables to it, migrations on boot, and error mapping.

Piccolo finds its engine through a module named by the PICCOLO_CONF environment variable and
caches it per table. The App decides its engine from Settings instead, so `bind()` points both
Piccolo's conf module and every table at the engine chosen here. Only one engine is bound per
process at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import io
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]
from asyncpg.exceptions import UniqueViolationError  # type: ignore[import-untyped]
from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.query.methods.select import Select

from cial_app.db_locks import SoleApp, migration_lock
from cial_app.errors import ConfigurationError
from cial_app.settings import Settings

log = logging.getLogger(__name__)

PICCOLO_APP_NAME = "cial_app"
PICCOLO_CONF_MODULE = "cial_app.piccolo_conf"
_POSTGRES_SCHEMES = {"postgres", "postgresql"}


class MigrationFailed(Exception):
    """Pending migrations could not be applied; the App must not serve on a half-migrated schema."""


def make_engine(settings: Settings) -> Engine:  # type: ignore[type-arg]
    if settings.database_url is None:
        # A long busy timeout: concurrent writers (racing sign-ups) wait for the lock, not fail.
        return SQLiteEngine(path=str(settings.sqlite_path), timeout=30)
    scheme = urlsplit(settings.database_url).scheme
    if scheme not in _POSTGRES_SCHEMES:
        raise ConfigurationError(
            f"DATABASE_URL must be a postgres:// or postgresql:// URL, got scheme {scheme!r}"
        )
    # asyncpg parses the URL itself (user, password, host, port, database, sslmode, ...).
    return PostgresEngine(config={"dsn": settings.database_url})


def bind(engine: Engine) -> None:  # type: ignore[type-arg]
    """Make `engine` the one every table and Piccolo's migration runner use."""
    conf_name = os.environ.setdefault("PICCOLO_CONF", PICCOLO_CONF_MODULE)
    if conf_name != PICCOLO_CONF_MODULE:
        raise ConfigurationError(
            f"PICCOLO_CONF is {conf_name!r}; the App needs {PICCOLO_CONF_MODULE!r} (or leave it unset)"
        )
    conf = importlib.import_module(PICCOLO_CONF_MODULE)
    setattr(conf, "DB", engine)  # noqa: B010  (a module attribute Piccolo reads by name)
    from cial_app.piccolo_app import APP_CONFIG

    for table in APP_CONFIG.table_classes:
        table._meta.db = engine
    Migration._meta.db = engine


class DatabaseUnavailable(Exception):
    """Postgres did not accept a connection before the boot deadline."""


async def connect(engine: Engine, *, pool: bool = True, wait_seconds: float = 30.0) -> None:  # type: ignore[type-arg]
    if isinstance(engine, PostgresEngine):
        await _wait_for_postgres(engine, wait_seconds)
        if pool:
            await engine.start_connection_pool()
    elif isinstance(engine, SQLiteEngine):
        # WAL lets readers go on while one writer commits; the setting is stored in the file.
        await engine.run_ddl("PRAGMA journal_mode=WAL")


async def _wait_for_postgres(engine: PostgresEngine, wait_seconds: float) -> None:
    # Postgres may still be starting (a fresh compose up, a restart): keep knocking for a while
    # rather than crash the boot and lean on a restart policy.
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            connection = await engine.get_new_connection()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            if time.monotonic() >= deadline:
                raise DatabaseUnavailable(
                    f"Postgres did not answer within {wait_seconds:g} s: {error}"
                ) from error
            log.info("waiting for Postgres: %s", error)
            await asyncio.sleep(0.5)
        else:
            await connection.close()
            return


async def disconnect(engine: Engine) -> None:  # type: ignore[type-arg]
    if isinstance(engine, PostgresEngine) and engine.pool is not None:
        await engine.close_connection_pool()


async def migrate(name: str = "cial-app migrations") -> list[str]:
    """Apply the migrations not yet recorded in the database; return Piccolo's report lines.

    Safe to call on every boot: applied migrations are recorded and skipped, nothing is dropped.
    On Postgres under an advisory lock (`name` is how this process shows to whoever waits for
    it): two processes booting at once would otherwise both find a migration missing and race to
    apply it. The second waits, then finds it applied.
    """
    engine = Migration._meta.db
    lock = (
        migration_lock(engine, name=name) if isinstance(engine, PostgresEngine) else contextlib.nullcontext()
    )
    # Piccolo reports progress with print(); keep it out of stdout and hand it to the log.
    report = io.StringIO()
    async with lock:
        with contextlib.redirect_stdout(report):
            result = await run_forwards(app_name=PICCOLO_APP_NAME)
    lines = [line for line in report.getvalue().splitlines() if line.strip()]
    for line in lines:
        log.info("migrations: %s", line)
    if not result.success:
        raise MigrationFailed(result.message or "Piccolo reported a failed migration")
    return lines


def sole_app(engine: Engine, *, name: str, wait_seconds: float) -> AbstractAsyncContextManager[object]:  # type: ignore[type-arg]
    """Held while this App runs: on Postgres, the claim that no other App process serves this
    database (a second one fails to start with AppAlreadyRunning, naming the first). SQLite is
    reached in-process only, by one process: nothing to claim."""
    if not isinstance(engine, PostgresEngine):
        return contextlib.nullcontext()
    return _claimed(engine, name, wait_seconds)


@contextlib.asynccontextmanager
async def _claimed(engine: PostgresEngine, name: str, wait_seconds: float) -> AsyncIterator[object]:
    claim = await SoleApp.claim(engine, name=name, wait_seconds=wait_seconds)
    try:
        yield claim
    finally:
        await claim.release()


def is_unique_violation(error: BaseException) -> bool:
    """True when the database refused a write because it would break a UNIQUE constraint."""
    if isinstance(error, UniqueViolationError):
        return True
    return isinstance(error, sqlite3.IntegrityError) and "UNIQUE constraint failed" in str(error)


def utcnow() -> datetime:
    return datetime.now(UTC)


def write_transaction(engine: Engine) -> AbstractAsyncContextManager[object]:  # type: ignore[type-arg]
    """A transaction that holds the write lock from its first statement.

    SQLite's default (deferred) transaction fails at once, without waiting, when it reads and
    then tries to write after another writer committed; IMMEDIATE takes the lock up front, so
    a read-then-write sequence is serialised with other writers. Postgres locks rows instead
    (see `for_update`).
    """
    if isinstance(engine, SQLiteEngine):
        return _ClosedIfNeverBegun(engine.transaction(transaction_type=TransactionType.immediate))
    return engine.transaction()  # type: ignore[no-any-return]


class _ClosedIfNeverBegun:
    """Piccolo's SQLite transaction, closing its connection when `BEGIN` itself fails.

    `BEGIN IMMEDIATE` waits for the write lock; a task cancelled there (the App stopping, a job
    cancelled) leaves Piccolo's `__aenter__` with the connection open, and no `__aexit__` runs
    to close it: aiosqlite's worker thread would wait forever. Closing is shielded so a second
    cancellation cannot interrupt it halfway.
    """

    def __init__(self, transaction: AbstractAsyncContextManager[object]) -> None:
        self._transaction = transaction

    async def __aenter__(self) -> object:
        try:
            return await self._transaction.__aenter__()
        except BaseException:
            connection = getattr(self._transaction, "connection", None)
            if connection is not None:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.shield(connection.close())
            raise

    async def __aexit__(self, *exc_info: object) -> bool | None:
        return await self._transaction.__aexit__(*exc_info)  # type: ignore[arg-type]


def for_update(query: Select, engine: Engine) -> Select:  # type: ignore[type-arg]
    """Lock the selected rows until the transaction ends (on SQLite the transaction already does)."""
    if isinstance(engine, SQLiteEngine):
        return query
    return query.lock_rows("UPDATE")
