"""Fixtures for the App's fast tests: a fresh SQLite file per test, the App in-process on the
test's own event loop, its tenants on an in-memory engine (tests/app/fakes.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import os
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from cial_app.api.app import create_app, services_of
from cial_app.api.services import Services
from cial_app.auth.passwords import Argon2
from cial_app.orchestrator import Orchestrator
from cial_app.orchestrator.remote import RemoteOrchestrator
from cial_app.orchestrator_service import create_service
from cial_app.provisioning.wiring import machine_template
from cial_app.settings import Settings
from litestar import Litestar

from testkit.owner import Owner, create, sign_in, sign_up, tenant

from .fakes import FakeEngine

__all__ = ["sign_in"]  # tests import it from here, with the fixtures

OWNER = {"name": "Olivia Owner", "email": "owner@example.com", "password": "correct horse battery"}
# The App as local mode publishes it: a host in its default allowed hosts.
BASE_URL = "http://localhost:3100"
SAME_ORIGIN = {"Origin": BASE_URL, "Sec-Fetch-Site": "same-origin"}

Client = httpx.AsyncClient


# Set to a postgres:// URL to run these same tests against Postgres; every test then starts
# from an empty `public` schema in that database (so never point it at one you care about).
POSTGRES_URL = os.environ.get("CIAL_TEST_DATABASE_URL")


# Never the Docker driver in fast tests (an App here must not see, let alone sweep, real tenant
# containers); rounds of the reconciler only when a test asks for them.
# SSO is set up as in a real App (tests of an App without it replace this with None).
SSO_SECRET = "fast-tests-sso-master-secret-0123456789abcdef"
TEST_SETTINGS: dict[str, Any] = {
    "orchestrator": "memory",
    "sso_secret": SSO_SECRET,
    "health_deadline_seconds": 1.0,
    "reconcile_interval_seconds": 3600.0,
}


@pytest.fixture
async def settings(tmp_path: Path) -> Settings:
    if POSTGRES_URL is None:
        return Settings(sqlite_path=tmp_path / "app.sqlite3", **TEST_SETTINGS)
    connection = await asyncpg.connect(POSTGRES_URL)
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await connection.close()
    # Some tests run the App under uvicorn in a thread; pooled connections cannot cross loops.
    return Settings(database_url=POSTGRES_URL, database_pool=False, **TEST_SETTINGS)


# Set to "remote" to run these same tests with the App on the `remote` driver: the orchestrator
# service in-process over the fake engine, through an ASGI transport (the wire, the token and the
# mapping of typed errors in between; the test's levers still act on the fake engine).
REMOTE = os.environ.get("CIAL_TEST_ORCHESTRATOR") == "remote"
REMOTE_TOKEN = "fast-tests-orchestrator-token-0123456789abcdef"


def _driver(engine: FakeEngine, settings: Settings) -> Orchestrator:
    if not REMOTE:
        return engine
    service = create_service(engine, machine_template(settings), REMOTE_TOKEN)
    transport = httpx.ASGITransport(app=service)
    return RemoteOrchestrator(url="http://orchestrator.test", token=REMOTE_TOKEN, transport=transport)


@dataclass
class Running:
    """One App, started (lifespan entered) on the test's event loop, and a client for it."""

    app: Litestar
    client: httpx.AsyncClient
    engine: FakeEngine

    @property
    def services(self) -> Services:
        return services_of(self.app)

    async def settle(self) -> None:
        """Until the App's background work on tenants is done (the test then looks at the result)."""
        await self.services.provisioning.work.jobs.wait_idle()

    async def reconcile(self) -> None:
        """One reconciler round, and the work it started."""
        await self.services.provisioning.loop.tick()
        await self.settle()


async def running_tenant(running: Running, client: Client, slug: str = "acme") -> dict[str, Any]:
    """Create `slug` and wait for the App's background work: it must be running; its JSON."""
    await create(client, slug)
    await running.settle()
    body = await tenant(client, slug)
    assert body["state"] == "running"
    return body


@asynccontextmanager
async def run_app(
    settings: Settings,
    engine: FakeEngine | None = None,
    *,
    argon2: Argon2 | None = None,
    orchestrator: Orchestrator | None = None,
) -> AsyncIterator[Running]:
    """The App on this loop: its lifespan, requests and background tasks share one event loop,
    so a test can hold an engine call half-way and look at the App meanwhile. `orchestrator`: a
    driver of the test's own in place of the fake engine (which then only answers health checks)."""
    engine = engine or FakeEngine()
    driver = orchestrator or _driver(engine, settings)
    app = create_app(settings, orchestrator=driver, health=engine.probe, argon2=argon2)
    async with _lifespan(app):
        # The reconciler's first round starts with the App; let it finish before the test acts.
        await services_of(app).provisioning.loop.tick()
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # Litestar's own ASGI types
        # Redirects are part of what the admin pages promise: tests look at them, not past them.
        async with httpx.AsyncClient(
            transport=transport, base_url=BASE_URL, follow_redirects=False
        ) as client:
            yield Running(app, client, engine)


@asynccontextmanager
async def _lifespan(app: Litestar) -> AsyncIterator[None]:
    """`app.lifespan()` entered and left in one task of its own: Litestar's lifespan holds an
    anyio cancel scope, and pytest-asyncio sets a fixture up and tears it down in two tasks."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    before = _database_threads()
    task = asyncio.create_task(hold())
    ready = asyncio.create_task(started.wait())
    await asyncio.wait([task, ready], return_when=asyncio.FIRST_COMPLETED)
    if not started.is_set():
        ready.cancel()
        await task  # raises what the start-up raised
    try:
        yield
    finally:
        stop.set()
        await task
        await _database_threads_end(_database_threads() - before)


def _database_threads() -> set[threading.Thread]:
    """aiosqlite's worker threads: one per open connection, until it is closed."""
    return {t for t in threading.enumerate() if t.name.endswith("(_connection_worker_thread)")}


async def _database_threads_end(threads: set[threading.Thread], within: float = 5.0) -> None:
    """Let the App's last database work end on this loop, before the test's loop closes.

    A query the App's shutdown cancels (a tenant job, a reconciler round) leaves aiosqlite to close
    its connection in the background: the worker thread then calls back into the loop that ran the
    App; had the loop closed meanwhile, the thread would die on "Event loop is closed".

    Worse, a job cancelled while Piccolo's SQLite transaction waits in `BEGIN IMMEDIATE` (its
    `__aenter__`: the `__aexit__` that closes the connection never runs) leaks that connection:
    its thread waits forever and aiosqlite stops it when the garbage collector finds it, in a later
    test, on a loop long closed. db.write_transaction now closes the connection of a transaction
    that failed to begin, but a cancellation can still land while aiosqlite opens a connection
    (before Piccolo holds it), so such leftovers are closed here, while this loop still runs.
    """
    for thread in threads:
        await asyncio.to_thread(thread.join, within)
    if any(t.is_alive() for t in threads):
        for connection in _open_sqlite_connections():
            await connection.close()
        for thread in threads:
            await asyncio.to_thread(thread.join, within)
    left = [t.name for t in threads if t.is_alive()]
    assert not left, f"database connections outlived the App: {left}"


def _open_sqlite_connections() -> list[aiosqlite.Connection]:
    found = gc.get_objects()
    return [o for o in found if isinstance(o, aiosqlite.Connection) and o._connection is not None]


@pytest.fixture
async def running(settings: Settings) -> AsyncIterator[Running]:
    async with run_app(settings) as running:
        yield running


@pytest.fixture
async def client(running: Running) -> Client:
    return running.client


@pytest.fixture
async def owner(client: Client) -> Client:
    """The client, signed in as the owner."""
    response = await sign_up(client, Owner.of(OWNER))
    assert response.status_code == 200, response.text
    return client


def form_token(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "the page has no CSRF token in its form"
    return match.group(1)


async def post_form(client: Client, path: str, fields: dict[str, str], *, token_from: str) -> httpx.Response:
    """Submit a form the way a browser does: load the page, then post with its token."""
    page = await client.get(token_from)
    return await client.post(path, data={**fields, "csrf_token": form_token(page)}, headers=SAME_ORIGIN)


def with_(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, **changes)
