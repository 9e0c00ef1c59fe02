"""The sign-in throttle's backoff, and its keys in the database on a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cial_app.auth.tables import SignInAttempt
from cial_app.auth.throttle import Backoff, SignInThrottle
from cial_app.errors import TooManyAttempts

from .conftest import Running


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class TestBackoff:
    def test_the_free_attempts_wait_nothing_then_each_waits_twice_the_last_up_to_the_cap(self) -> None:
        backoff = Backoff(free=3, first=1, longest=10)
        assert [backoff.delay(n) for n in range(8)] == [0, 0, 0, 1, 2, 4, 8, 10]

    def test_a_huge_count_stays_at_the_cap(self) -> None:
        assert Backoff(free=1, first=1, longest=900).delay(10_000) == 900


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle(running: Running, clock: Clock) -> SignInThrottle:
    """A throttle on the running App's database, on the test's clock."""
    return SignInThrottle(
        per_email=Backoff(free=2, first=10, longest=40),
        per_client=Backoff(free=5, first=10, longest=40),
        forget_after=timedelta(seconds=300),
        clock=clock,
    )


async def waits(throttle: SignInThrottle, email: str, client: str) -> int | None:
    try:
        await throttle.reserve(email, client)
    except TooManyAttempts as error:
        return error.retry_after_seconds
    return None


class TestSignInThrottle:
    async def test_past_the_free_attempts_the_wait_doubles_and_is_counted_from_the_last_attempt(
        self, throttle: SignInThrottle, clock: Clock
    ) -> None:
        assert await waits(throttle, "a@x", "10.0.0.1") is None
        assert await waits(throttle, "a@x", "10.0.0.1") is None
        assert await waits(throttle, "a@x", "10.0.0.1") == 10
        clock.advance(4)
        assert await waits(throttle, "a@x", "10.0.0.1") == 6
        clock.advance(6)
        assert await waits(throttle, "a@x", "10.0.0.1") is None
        assert await waits(throttle, "a@x", "10.0.0.1") == 20

    async def test_a_throttled_attempt_is_not_counted(self, throttle: SignInThrottle, clock: Clock) -> None:
        for _ in range(2):
            await throttle.reserve("a@x", "10.0.0.1")
        for _ in range(20):
            assert await waits(throttle, "a@x", "10.0.0.1") == 10
        clock.advance(10)
        assert await waits(throttle, "a@x", "10.0.0.1") is None

    async def test_another_client_and_another_email_are_counted_apart(self, throttle: SignInThrottle) -> None:
        for _ in range(2):
            await throttle.reserve("a@x", "10.0.0.1")
        assert await waits(throttle, "a@x", "10.0.0.2") is None
        assert await waits(throttle, "b@x", "10.0.0.1") is None

    async def test_one_client_spraying_many_emails_is_throttled(self, throttle: SignInThrottle) -> None:
        for i in range(5):
            assert await waits(throttle, f"u{i}@x", "10.0.0.1") is None
        assert await waits(throttle, "u9@x", "10.0.0.1") == 10
        assert await waits(throttle, "u9@x", "10.0.0.2") is None

    async def test_a_success_clears_its_pair_and_does_not_count_against_the_client(
        self, throttle: SignInThrottle
    ) -> None:
        await throttle.reserve("a@x", "10.0.0.1")
        await throttle.succeeded(await throttle.reserve("a@x", "10.0.0.1"))
        assert await waits(throttle, "a@x", "10.0.0.1") is None
        assert await waits(throttle, "a@x", "10.0.0.1") is None
        assert await waits(throttle, "a@x", "10.0.0.1") == 10

    async def test_successes_are_not_held_against_the_client(self, throttle: SignInThrottle) -> None:
        for _ in range(10):
            await throttle.succeeded(await throttle.reserve("a@x", "10.0.0.1"))
        for i in range(5):
            assert await waits(throttle, f"u{i}@x", "10.0.0.1") is None

    async def test_a_refunded_attempt_does_not_count(self, throttle: SignInThrottle) -> None:
        for _ in range(10):
            await throttle.refund(await throttle.reserve("a@x", "10.0.0.1"))
        assert await waits(throttle, "a@x", "10.0.0.1") is None

    async def test_keys_quiet_past_the_forget_time_are_pruned(
        self, throttle: SignInThrottle, clock: Clock
    ) -> None:
        for i in range(3):
            await throttle.reserve(f"old{i}@x", "10.0.0.1")
        clock.advance(301)
        await throttle.reserve("new@x", "10.0.0.2")
        assert sorted(r["email"] for r in await SignInAttempt.select(SignInAttempt.email)) == [
            "* any",
            "new@x",
        ]
