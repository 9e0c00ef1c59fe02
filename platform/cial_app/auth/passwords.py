"""argon2id password hashing, off the event loop.

Cost follows OWASP's argon2id minimum (m=19456 KiB, t=2, p=1). Hashing is deliberately slow
and CPU-bound, so it runs in a worker thread and the server keeps answering meanwhile.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

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


class Argon2(Protocol):
    """What the hasher needs of argon2-cffi's PasswordHasher (tests wrap it to count and hold hashes)."""

    def hash(self, password: str) -> str: ...

    def verify(self, hash: str, password: str) -> bool: ...

    def check_needs_rehash(self, hash: str) -> bool: ...


def argon2id() -> Argon2:
    return _Argon2(time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM, type=Type.ID)


@dataclass(slots=True)
class PasswordHasher:
    argon2: Argon2 = field(default_factory=argon2id)
    # Verified against when the e-mail is unknown, so that answer costs the same time as a
    # wrong password and response times do not reveal which accounts exist.
    _decoy: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self.argon2.hash, password)

    async def verify(self, stored_hash: str, password: str) -> Verdict:
        return await asyncio.to_thread(self._verify, stored_hash, password)

    async def burn(self, password: str) -> None:
        """Spend the time a verification costs, for a sign-in whose e-mail matched no user."""
        if self._decoy is None:
            self._decoy = await self.hash("decoy password that no account uses")
        await self.verify(self._decoy, password)

    def _verify(self, stored_hash: str, password: str) -> Verdict:
        try:
            self.argon2.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return Verdict(ok=False)
        return Verdict(ok=True, needs_rehash=self.argon2.check_needs_rehash(stored_hash))
