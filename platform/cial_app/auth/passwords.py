"""argon2id password hashing, off the event loop, on threads of its own.

Cost follows OWASP's argon2id minimum (m=19456 KiB, t=2, p=1). Hashing is deliberately slow
and CPU-bound, so it runs in worker threads and the server keeps answering meanwhile. Those
threads are a small pool of their own (`HashingPool`), not asyncio's default executor: the
Docker driver's calls run there, and a flood of sign-ins must not make provisioning wait.
The pool takes only so many waiting jobs; past that a sign-in is refused at once (`HashingBusy`)
rather than queued behind minutes of hashing, holding 19 MiB each.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from cial_app.errors import HashingBusy

MEMORY_COST_KIB = 19456
TIME_COST = 2
PARALLELISM = 1

T = TypeVar("T")


class Argon2(Protocol):
    """What the hasher needs of argon2-cffi's PasswordHasher (tests wrap it to count and hold hashes)."""

    def hash(self, password: str) -> str: ...

    def verify(self, hash: str, password: str) -> bool: ...

    def check_needs_rehash(self, hash: str) -> bool: ...


def argon2id() -> Argon2:
    return _Argon2(time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM, type=Type.ID)


class HashingPool:
    """`threads` threads for argon2 alone, and room for `queue` jobs waiting for one."""

    def __init__(self, threads: int = 2, queue: int = 16) -> None:
        self._threads = threads
        # Running and waiting jobs together; taken without blocking, so a full pool answers at once.
        self._slots = threading.BoundedSemaphore(threads + queue)
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        if not self._slots.acquire(blocking=False):
            raise HashingBusy()
        try:
            job: Future[T] = self._pool().submit(fn, *args)
        except BaseException:
            self._slots.release()
            raise
        # Released when the job ends or is cancelled before it started, not when the awaiting
        # request goes away: a job already running still holds its thread until it is done.
        job.add_done_callback(lambda _: self._slots.release())
        return await asyncio.wrap_future(job)

    def close(self) -> None:
        """Stop the threads (jobs still waiting are cancelled); the next `run` starts new ones."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="argon2")
            return self._executor


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    # The stored hash used weaker parameters than today's: store a fresh one on success.
    needs_rehash: bool = False


@dataclass(slots=True)
class PasswordHasher:
    argon2: Argon2 = field(default_factory=argon2id)
    pool: HashingPool = field(default_factory=HashingPool)
    # Verified against when the e-mail is unknown, so that answer costs the same time as a
    # wrong password and response times do not reveal which accounts exist.
    _decoy: str | None = None

    async def hash(self, password: str) -> str:
        return await self.pool.run(self.argon2.hash, password)

    async def verify(self, stored_hash: str, password: str) -> Verdict:
        return await self.pool.run(self._verify, stored_hash, password)

    async def burn(self, password: str) -> None:
        """Spend the time a verification costs, for a sign-in whose e-mail matched no user."""
        if self._decoy is None:
            self._decoy = await self.hash("decoy password that no account uses")
        await self.verify(self._decoy, password)

    def close(self) -> None:
        self.pool.close()

    def _verify(self, stored_hash: str, password: str) -> Verdict:
        try:
            self.argon2.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return Verdict(ok=False)
        return Verdict(ok=True, needs_rehash=self.argon2.check_needs_rehash(stored_hash))
