"""The sign-in throttle: attempts per (e-mail, client address), with exponential backoff.

An attempt is reserved before its password is hashed, in one write transaction with the check:
concurrent attempts queue on that transaction, so no more than the free allowance ever reach
argon2, however many arrive at once. Keyed on the client as well as the e-mail, so whoever
knows the owner's address can slow down only their own client, never lock the owner out; past
the allowance each attempt waits twice as long as the last instead of a hard lock. A second
key per client over all e-mails bounds what one client can make the App hash by spraying
made-up addresses. Kept in the database, so a restart does not hand out a fresh allowance.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from piccolo.columns import Column
from piccolo.engine.base import Engine
from piccolo.engine.sqlite import SQLiteEngine

from cial_app.auth.tables import SignInAttempt
from cial_app.db import for_update, utcnow, write_transaction
from cial_app.errors import TooManyAttempts

# The e-mail of a client's own key, over every address it tries (no address contains a space).
ANY_EMAIL = "* any"
CLIENT_MAX = 64


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long a key waits after `failures` attempts: nothing for the first `free`, then `first`
    seconds, doubling with each further attempt up to `longest`."""

    free: int
    first: float
    longest: float

    def delay(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        # The exponent is capped before it is used: a key with many failures must not overflow.
        doublings = min(failures - self.free, 62)
        return float(min(self.longest, self.first * 2**doublings))


@dataclass(frozen=True, slots=True)
class Reservation:
    """An attempt let through; hand it back as `succeeded` or `refund`."""

    email: str
    client: str


class SignInThrottle:
    def __init__(
        self,
        *,
        per_email: Backoff,
        per_client: Backoff,
        forget_after: timedelta,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._per_email = per_email
        self._per_client = per_client
        self._forget_after = forget_after
        self._clock = clock
        # SQLite runs one writer at a time anyway, and a writer that finds the file locked waits
        # by sleeping and retrying (up to 100 ms a try): a flood made every attempt wait tens of
        # milliseconds for nothing. This App's writes of the table queue here instead, and take the
        # file's write lock one after the other. Postgres locks only the key's rows.
        self._sqlite_turn = asyncio.Lock()

    async def reserve(self, email: str, client: str) -> Reservation:
        """Count an attempt for (email, client) and let it through, or raise TooManyAttempts
        (with the seconds until the next one may try) without counting it."""
        client = client[:CLIENT_MAX]
        backoffs = {(email, client): self._per_email, (ANY_EMAIL, client): self._per_client}
        keys = {_key(*pair): backoff for pair, backoff in backoffs.items()}
        engine = SignInAttempt._meta.db
        async with self._writing(engine):
            now = self._clock()
            # Pruned here, where every attempt passes: the table holds only keys heard from lately.
            await SignInAttempt.delete().where(SignInAttempt.last_attempt_at < now - self._forget_after)
            # Rows first, so that on Postgres two first attempts of a key lock the same row
            # (SQLite's IMMEDIATE transaction already runs them one after the other).
            fresh = [
                SignInAttempt(key=_key(e, c), email=e, client=c, failures=0, last_attempt_at=now)
                for e, c in backoffs
            ]
            await SignInAttempt.insert(*fresh).on_conflict(target=SignInAttempt.key, action="DO NOTHING")
            query = SignInAttempt.select(
                SignInAttempt.key, SignInAttempt.failures, SignInAttempt.last_attempt_at
            ).where(SignInAttempt.key.is_in(list(keys)))
            rows = await for_update(query, engine).run()
            wait = max(_seconds_left(row, keys[row["key"]], now) for row in rows)
            if wait == 0:
                counted: dict[Column | str, Any] = {
                    SignInAttempt.failures: SignInAttempt.failures + 1,
                    SignInAttempt.last_attempt_at: now,
                }
                await SignInAttempt.update(counted).where(SignInAttempt.key.is_in(list(keys)))
        # Raised after the commit, so the prune above is kept even while every attempt waits.
        if wait:
            raise TooManyAttempts(wait)
        return Reservation(email=email, client=client)

    async def succeeded(self, reservation: Reservation) -> None:
        """The password was right: forget the pair's failures, and do not hold this attempt
        against the client (its count is for failures, and stays)."""
        async with self._writing(SignInAttempt._meta.db):
            await SignInAttempt.delete().where(
                SignInAttempt.key == _key(reservation.email, reservation.client)
            )
            await self._uncount(_key(ANY_EMAIL, reservation.client))

    async def refund(self, reservation: Reservation) -> None:
        """The attempt was never judged (no thread to hash it on): it does not count."""
        async with self._writing(SignInAttempt._meta.db):
            for key in (_key(reservation.email, reservation.client), _key(ANY_EMAIL, reservation.client)):
                await self._uncount(key)

    @contextlib.asynccontextmanager
    async def _writing(self, engine: Engine) -> AsyncIterator[None]:  # type: ignore[type-arg]
        turn = self._sqlite_turn if isinstance(engine, SQLiteEngine) else contextlib.nullcontext()
        async with turn, write_transaction(engine):
            yield

    async def _uncount(self, key: str) -> None:
        await (
            SignInAttempt.update({SignInAttempt.failures: SignInAttempt.failures - 1})
            .where((SignInAttempt.key == key) & (SignInAttempt.failures > 0))
            .run()
        )


def _seconds_left(row: dict[str, Any], backoff: Backoff, now: datetime) -> int:
    delay = backoff.delay(int(row["failures"]))
    if delay == 0:
        return 0
    last: datetime = row["last_attempt_at"]
    left = (last + timedelta(seconds=delay) - now).total_seconds()
    return max(0, math.ceil(left))


def _key(email: str, client: str) -> str:
    # A separator no e-mail address or client address contains.
    return hashlib.sha256(f"{email}\n{client}".encode()).hexdigest()
