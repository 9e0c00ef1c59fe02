"""argon2id password hashing, off the event loop.

Cost follows OWASP's argon2id minimum (m=19456 KiB, t=2, p=1). Hashing is deliberately slow
and CPU-bound, so it runs in a worker thread and the server keeps answering meanwhile.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MEMORY_COST_KIB = 19456
TIME_COST = 2
PARALLELISM = 1


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    # The stored hash used weaker parameters than today's: store a fresh one on success.
    needs_rehash: bool = False


@dataclass(slots=True)
class PasswordHasher:
    _argon2: _Argon2 = field(
        default_factory=lambda: _Argon2(
            time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM, type=Type.ID
        )
    )
    # Verified against when the e-mail is unknown, so that answer costs the same time as a
    # wrong password and response times do not reveal which accounts exist.
    _decoy: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._argon2.hash, password)

    async def verify(self, stored_hash: str, password: str) -> Verdict:
        return await asyncio.to_thread(self._verify, stored_hash, password)

    async def burn(self, password: str) -> None:
        """Spend the time a verification costs, for a sign-in whose e-mail matched no user."""
        if self._decoy is None:
            self._decoy = await self.hash("decoy password that no account uses")
        await self.verify(self._decoy, password)

    def _verify(self, stored_hash: str, password: str) -> Verdict:
        try:
            self._argon2.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return Verdict(ok=False)
        return Verdict(ok=True, needs_rehash=self._argon2.check_needs_rehash(stored_hash))
