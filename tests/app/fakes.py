"""An engine for the App's fast tests: the Orchestrator Protocol in memory, with what a test needs
on top — holding an operation half-way, a health check that can fail, and a record of calls.

The machines themselves are the orchestrator's own in-memory driver (same contract as Docker's:
idempotent create, labelled volumes that outlive containers, typed errors); this wrapper only
adds the test's levers. The real Docker driver is exercised by the specs.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import dataclass, field

from cial_app.auth.passwords import argon2id
from cial_app.orchestrator import HealthTimeout, Machine, MachineSpec, Volume
from cial_app.orchestrator.memory import MemoryOrchestrator

IMAGE = "cial-tenant:dev"


@dataclass
class Gate:
    """Holds every call of one operation until opened; `arrived` is set once one is waiting."""

    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0

    def open(self) -> None:
        self.opened.set()


class FakeEngine:
    driver = "fake"

    def __init__(self, *, images: tuple[str, ...] = (IMAGE,)) -> None:
        self.memory = MemoryOrchestrator(images=images)
        self.calls: list[tuple[str, str]] = []
        self.gates: dict[str, Gate] = {}
        # slug -> what the failed health check saw
        self.unhealthy: dict[str, str] = {}
        # operation -> the error every call of it raises (after passing its gate)
        self.failures: dict[str, Exception] = {}
        self.closed = False
        # slug -> the last spec a create was asked for (what the machine's environment holds)
        self.specs: dict[str, MachineSpec] = {}

    # ----------------------------------------------------------------------------- the levers

    @property
    def engine_up(self) -> bool:
        return self.memory.engine_up

    @engine_up.setter
    def engine_up(self, value: bool) -> None:
        self.memory.engine_up = value

    def hold(self, operation: str) -> Gate:
        """Hold `operation` ("create", "stop", "destroy", "health", ...) until the gate opens."""
        gate = self.gates[operation] = Gate()
        return gate

    def count(self, operation: str) -> int:
        return Counter(op for op, _ in self.calls)[operation]

    async def machines_of(self, tenant_id: object) -> list[Machine]:
        return [m for m in await self.memory.list_machines() if m.tenant_id == str(tenant_id)]

    async def volumes_of(self, tenant_id: object) -> list[Volume]:
        return [v for v in await self.memory.list_volumes() if v.tenant_id == str(tenant_id)]

    async def _pass(self, operation: str, subject: str) -> None:
        self.calls.append((operation, subject))
        gate = self.gates.get(operation)
        if gate is not None and not gate.opened.is_set():
            gate.waiting += 1
            gate.arrived.set()
            try:
                await gate.opened.wait()
            finally:
                gate.waiting -= 1
        failure = self.failures.get(operation)
        if failure is not None:
            raise failure

    async def probe(self, machine: Machine) -> float:
        """The health check the App is given in place of HTTP."""
        await self._pass("health", machine.slug or machine.tenant_id)
        seen = self.unhealthy.get(machine.slug or "")
        if seen is not None:
            raise HealthTimeout(
                f"tenant {machine.slug} did not answer /.cial/api/healthz with 200 within 1 s "
                f"(last attempt: {seen})"
            )
        return 0.25

    # ---------------------------------------------------------------------------- the Protocol

    async def create(self, spec: MachineSpec) -> Machine:
        self.specs[spec.slug] = spec
        await self._pass("create", spec.slug)
        return await self.memory.create(spec)

    async def start(self, tenant_id: str) -> Machine:
        await self._pass("start", tenant_id)
        return await self.memory.start(tenant_id)

    async def stop(self, tenant_id: str) -> Machine:
        await self._pass("stop", tenant_id)
        return await self.memory.stop(tenant_id)

    async def restart(self, tenant_id: str) -> Machine:
        await self._pass("restart", tenant_id)
        return await self.memory.restart(tenant_id)

    async def destroy(self, tenant_id: str) -> None:
        await self._pass("destroy", tenant_id)
        await self.memory.destroy(tenant_id)

    async def status(self, tenant_id: str) -> Machine:
        return await self.memory.status(tenant_id)

    async def logs(self, tenant_id: str, tail: int = 100) -> list[str]:
        return await self.memory.logs(tenant_id, tail)

    async def list_machines(self) -> list[Machine]:
        await self._pass("list_machines", "")
        return await self.memory.list_machines()

    async def list_volumes(self) -> list[Volume]:
        return await self.memory.list_volumes()

    async def remove_machine(self, machine_id: str) -> None:
        await self._pass("remove_machine", machine_id)
        await self.memory.remove_machine(machine_id)

    async def remove_volume(self, name: str) -> None:
        await self._pass("remove_volume", name)
        await self.memory.remove_volume(name)

    async def ensure_routes(self) -> None:
        await self.memory.ensure_routes()

    async def aclose(self) -> None:
        self.closed = True


class ThreadedEngine(FakeEngine):
    """The fake engine whose create, like the Docker driver's SDK calls, runs in a worker thread
    of asyncio's default executor: it finishes only while that executor has a thread to spare."""

    async def create(self, spec: MachineSpec) -> Machine:
        await asyncio.to_thread(lambda: None)
        return await super().create(spec)


class CountingArgon2:
    """The real argon2id, counting every hash and verification it computes (from whatever
    thread runs it); `hold()` keeps them waiting in that thread until `release()`."""

    def __init__(self) -> None:
        self._real = argon2id()
        self._lock = threading.Lock()
        self._open = threading.Event()
        self._open.set()
        self.computed = 0
        self.waiting = 0

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def reset(self) -> None:
        with self._lock:
            self.computed = 0

    def hash(self, password: str) -> str:
        self._count()
        return self._real.hash(password)

    def verify(self, hash: str, password: str) -> bool:
        self._count()
        return self._real.verify(hash, password)

    def check_needs_rehash(self, hash: str) -> bool:
        return self._real.check_needs_rehash(hash)

    def _count(self) -> None:
        with self._lock:
            self.computed += 1
            self.waiting += 1
        try:
            # Bounded: a test that forgets to release must not leave a thread behind for good.
            self._open.wait(timeout=30)
        finally:
            with self._lock:
                self.waiting -= 1
