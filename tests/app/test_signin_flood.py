"""A flood of wrong sign-ins for the owner: few passwords are hashed, the owner still gets in from
another client, the throttle outlives a restart, and provisioning goes on meanwhile.

Real SQLite (or Postgres with CIAL_TEST_DATABASE_URL), the real App in-process; the only stand-in
is argon2 wrapped to count (and, where a test needs it, hold) the hashes it computes.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from cial_app.settings import Settings
from litestar import Litestar

from testkit.owner import Owner, create, sign_up
from testkit.owner import tenant as tenant_of

from .conftest import BASE_URL, OWNER, Running, run_app, sign_in, with_
from .fakes import CountingArgon2, ThreadedEngine

FLOOD = 50
ATTACKER = "198.51.100.66"
OWNERS_LAPTOP = "203.0.113.10"


@asynccontextmanager
async def client_at(app: Litestar, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the in-process App whose requests come from `address`."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


async def flood(client: httpx.AsyncClient) -> list[httpx.Response]:
    wrong = [sign_in(client, OWNER["email"], f"wrong password {i}") for i in range(FLOOD)]
    return list(await asyncio.gather(*wrong))


async def signed_up(running: Running) -> None:
    assert (await sign_up(running.client, Owner.of(OWNER))).status_code == 200


class TestAFloodOfWrongPasswords:
    async def test_only_the_limit_are_hashed_and_the_rest_get_429_with_retry_after(
        self, settings: Settings
    ) -> None:
        # The first wait outlasts the flood: what is measured is that concurrent attempts cannot
        # all pass the check, not how many the doubling waits let through as time goes by.
        settings = with_(settings, signin_backoff_first_seconds=60)
        argon2 = CountingArgon2()
        async with run_app(settings, argon2=argon2) as running:
            await signed_up(running)
            argon2.reset()
            async with client_at(running.app, ATTACKER) as attacker:
                answers = await flood(attacker)
        statuses = Counter(r.status_code for r in answers)
        assert argon2.computed <= settings.signin_max_failures, statuses
        assert statuses == {401: settings.signin_max_failures, 429: FLOOD - settings.signin_max_failures}
        throttled = [r for r in answers if r.status_code == 429]
        assert all(int(r.headers["retry-after"]) >= 1 for r in throttled)
        assert {r.json()["code"] for r in throttled} == {"too_many_attempts"}

    async def test_the_owner_signs_in_at_once_from_another_client(self, settings: Settings) -> None:
        # A first wait that outlasts the flood, so the attacker is still waiting when the owner comes.
        settings = with_(settings, signin_backoff_first_seconds=60)
        async with run_app(settings) as running:
            await signed_up(running)
            async with client_at(running.app, ATTACKER) as attacker:
                await flood(attacker)
                assert (await sign_in(attacker, OWNER["email"], OWNER["password"])).status_code == 429
            async with client_at(running.app, OWNERS_LAPTOP) as laptop:
                response = await sign_in(laptop, OWNER["email"], OWNER["password"])
                assert response.status_code == 200, response.text
                assert (await laptop.get("/api/auth/get-session")).json()["user"]["email"] == OWNER["email"]

    async def test_a_restarted_app_remembers_the_backoff(self, settings: Settings) -> None:
        # A first wait long enough that the restart cannot outlast it.
        settings = with_(settings, signin_max_failures=2, signin_backoff_first_seconds=60)
        async with run_app(settings) as running:
            await signed_up(running)
            async with client_at(running.app, ATTACKER) as attacker:
                await flood(attacker)
        async with run_app(settings) as running:
            async with client_at(running.app, ATTACKER) as attacker:
                response = await sign_in(attacker, OWNER["email"], OWNER["password"])
                assert response.status_code == 429
                assert 1 <= int(response.headers["retry-after"]) <= 60
            async with client_at(running.app, OWNERS_LAPTOP) as laptop:
                assert (await sign_in(laptop, OWNER["email"], OWNER["password"])).status_code == 200

    async def test_a_success_clears_only_its_own_email_and_client(self, settings: Settings) -> None:
        settings = with_(settings, signin_max_failures=2, signin_backoff_first_seconds=60)
        async with run_app(settings) as running:
            await signed_up(running)
            async with client_at(running.app, ATTACKER) as attacker:
                await flood(attacker)
            async with client_at(running.app, OWNERS_LAPTOP) as laptop:
                assert (await sign_in(laptop, OWNER["email"], "a typo in it")).status_code == 401
                assert (await sign_in(laptop, OWNER["email"], OWNER["password"])).status_code == 200
                # The laptop's count started again; the attacker's did not.
                for _ in range(2):
                    assert (await sign_in(laptop, OWNER["email"], "a typo in it")).status_code == 401
            async with client_at(running.app, ATTACKER) as attacker:
                assert (await sign_in(attacker, OWNER["email"], OWNER["password"])).status_code == 429


class TestProvisioningDuringAFlood:
    async def test_a_tenant_is_created_while_sign_ins_hold_every_hashing_thread(
        self, settings: Settings
    ) -> None:
        """The hashes of the flood are held in their threads for the whole test: provisioning,
        whose engine calls run in asyncio's default executor as the Docker driver's do, must not
        wait for them."""
        argon2 = CountingArgon2()
        async with run_app(settings, ThreadedEngine(), argon2=argon2) as running:
            await signed_up(running)
            argon2.hold()
            async with client_at(running.app, ATTACKER) as attacker:
                sign_ins = asyncio.create_task(flood(attacker))
                try:
                    for _ in range(200):  # until the flood's hashes occupy their threads (<= 10 s)
                        if argon2.waiting:
                            break
                        await asyncio.sleep(0.05)
                    assert argon2.waiting, "no sign-in reached argon2"
                    await create(running.client, "acme")
                    await asyncio.wait_for(running.settle(), timeout=10)
                    assert (await tenant_of(running.client, "acme"))["state"] == "running"
                    assert not sign_ins.done(), "the flood ended before the tenant was created"
                finally:
                    argon2.release()
                    answers = await sign_ins
        assert {r.status_code for r in answers} <= {401, 429, 503}


class TestAFullHashingQueue:
    async def test_sign_ins_past_the_queue_get_503_at_once_and_are_not_counted(
        self, settings: Settings
    ) -> None:
        settings = with_(settings, password_hash_threads=1, password_hash_queue=1, signin_max_failures=3)
        argon2 = CountingArgon2()
        async with run_app(settings, argon2=argon2) as running:
            await signed_up(running)
            argon2.hold()
            async with client_at(running.app, ATTACKER) as attacker:
                # One on the thread, one waiting for it: the pool is full.
                held = asyncio.gather(*(sign_in(attacker, OWNER["email"], "wrong") for _ in range(2)))
                try:
                    for _ in range(200):
                        if argon2.waiting:
                            break
                        await asyncio.sleep(0.05)
                    async with client_at(running.app, OWNERS_LAPTOP) as laptop:
                        for _ in range(5):
                            busy = await asyncio.wait_for(sign_in(laptop, OWNER["email"], "x" * 8), timeout=5)
                            assert busy.status_code == 503
                            assert busy.json()["code"] == "busy"
                            assert int(busy.headers["retry-after"]) >= 1
                finally:
                    argon2.release()
                    answers = await held
            assert [r.status_code for r in answers] == [401, 401]
            # None of the five refused attempts counted against the laptop.
            async with client_at(running.app, OWNERS_LAPTOP) as laptop:
                assert (await sign_in(laptop, OWNER["email"], OWNER["password"])).status_code == 200
