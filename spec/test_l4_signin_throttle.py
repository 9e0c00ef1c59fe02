"""The sign-in throttle on real Postgres, through a real App process: a flood of wrong passwords
for the owner from one client is throttled after the free attempts, the owner gets in from another
client address, and a restarted App still makes the flooding client wait."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from spec.app_process import AppProcess
from spec.containers import PostgresServer, spec_instance
from testkit.owner import Owner, sign_in, sign_up
from testkit.polling import eventually

pytestmark = pytest.mark.docker

OWNER = Owner(name="Olivia Owner", email="owner@example.com")
FREE = 5
FLOOD = 50
# Both on loopback, where the App listens: two client addresses without a second machine.
ATTACKER = "127.0.0.1"
OWNERS_LAPTOP = "127.0.0.2"


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer(instance=spec_instance("l4-throttle")) as server:
        yield server


def client_from(app: AppProcess, address: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=app.url, transport=transport, timeout=60)


async def flood(app: AppProcess) -> Counter[int]:
    async with client_from(app, ATTACKER) as attacker:
        answers = await asyncio.gather(
            *(sign_in(attacker, OWNER.email, f"wrong password {i}") for i in range(FLOOD))
        )
    return Counter(r.status_code for r in answers)


async def status_of_sign_in(app: AppProcess, address: str) -> httpx.Response:
    async with client_from(app, address) as client:
        return await sign_in(client, OWNER.email, OWNER.password)


def started(tmp_path: Path, database: str) -> AppProcess:
    # A first wait that outlasts the flood and the restart: the spec looks at who still waits.
    app = AppProcess(tmp_path, database, "throttle-app", CIAL_SIGNIN_BACKOFF_FIRST_SECONDS="120")
    eventually(lambda: app.serving() or app.ended(), timeout=90, what="the App to start")
    assert app.serving(), app.output()
    return app


class TestAFloodOnPostgres:
    def test_the_flood_is_throttled_the_owner_gets_in_elsewhere_and_a_restart_remembers(
        self, postgres: PostgresServer, tmp_path: Path
    ) -> None:
        database = postgres.database()
        app = started(tmp_path, database)
        try:
            with httpx.Client(base_url=app.url) as client:
                assert sign_up(client, OWNER).status_code == 200
            assert asyncio.run(flood(app)) == {401: FREE, 429: FLOOD - FREE}
            assert asyncio.run(status_of_sign_in(app, OWNERS_LAPTOP)).status_code == 200
        finally:
            app.stop()
        app = started(tmp_path, database)
        try:
            waiting = asyncio.run(status_of_sign_in(app, ATTACKER))
            assert waiting.status_code == 429
            assert 1 <= int(waiting.headers["retry-after"]) <= 120
            assert asyncio.run(status_of_sign_in(app, OWNERS_LAPTOP)).status_code == 200
        finally:
            app.stop()
