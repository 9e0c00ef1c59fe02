"""An in-process driver: the `Orchestrator` Protocol over a dictionary, for fast tests of the App.

It keeps the same contract as the Docker driver (idempotent create, labels, volumes that outlive
containers, typed errors) so the App's provisioning, admin actions and reconciler can be tested
without Docker. It also lets a test do what an operator might do behind the App's back.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from .base import (
    MACHINE_PORT,
    Endpoint,
    Machine,
    MachineSpec,
    MachineState,
    Volume,
    preference,
)
from .errors import (
    EngineUnavailable,
    ImageNotFound,
    MachineNotFound,
    NameConflict,
    NetworkNotFound,
    PortConflict,
)

_STOPPABLE = (MachineState.RUNNING, MachineState.RESTARTING, MachineState.PAUSED)


@dataclass
class _Entry:
    machine: Machine
    logs: list[str]


class MemoryOrchestrator:
    driver = "memory"

    def __init__(
        self,
        *,
        images: tuple[str, ...] = ("cial-tenant:dev",),
        networks: tuple[str, ...] = (),
        first_port: int = 42000,
    ) -> None:
        self.images = set(images)
        self.networks = set(networks)
        self.engine_up = True  # set False to act as if the engine went away
        self._machines: dict[str, _Entry] = {}  # by machine id
        self._volumes: dict[str, Volume] = {}  # by name
        self._ids = itertools.count(1)
        self._ports = itertools.count(first_port)

    # -------------------------------------------------------------------------- the Protocol

    async def create(self, spec: MachineSpec) -> Machine:
        self._check_engine()
        if spec.image not in self.images:
            raise ImageNotFound(spec.image, " (memory driver)")
        if spec.network is not None and spec.network not in self.networks:
            raise NetworkNotFound(spec.network)
        found = self._of(spec.tenant_id)
        for extra in found[1:]:
            del self._machines[extra.id or ""]
        keep = found[0] if found else None
        if keep is not None and (keep.state is MachineState.DEAD or keep.image != spec.image):
            del self._machines[keep.id or ""]
            keep = None
        if keep is None:
            self._ensure_volume(spec)
            if spec.published_port is not None and any(
                e.machine.published_port == spec.published_port for e in self._machines.values()
            ):
                raise PortConflict(f"host port {spec.published_port} is already allocated")
            for entry in list(self._machines.values()):
                if entry.machine.name == spec.machine_name:
                    del self._machines[entry.machine.id or ""]
            keep = Machine(
                tenant_id=spec.tenant_id,
                slug=spec.slug,
                state=MachineState.CREATED,
                id=f"mem{next(self._ids):09d}",
                name=spec.machine_name,
                image=spec.image,
                volume=spec.volume_name,
                created_at=datetime.now(UTC),
            )
            self._machines[keep.id or ""] = _Entry(keep, [f"created {keep.name}"])
        return self._set_running(keep, spec.published_port)

    async def start(self, tenant_id: str) -> Machine:
        self._check_engine()
        found = self._of(tenant_id)
        if not found:
            raise MachineNotFound(tenant_id)
        if found[0].state.is_up:
            return found[0]
        return self._set_running(found[0], None)

    async def stop(self, tenant_id: str) -> Machine:
        self._check_engine()
        found = self._of(tenant_id)
        for machine in found:
            if machine.state in _STOPPABLE:
                self._put(
                    replace(
                        machine, state=MachineState.STOPPED, upstream=None, published_port=None, exit_code=0
                    ),
                    "stopped",
                )
        return self._of(tenant_id)[0] if found else Machine.absent(tenant_id)

    async def restart(self, tenant_id: str) -> Machine:
        await self.stop(tenant_id)
        return await self.start(tenant_id)

    async def destroy(self, tenant_id: str) -> None:
        self._check_engine()
        for machine in self._of(tenant_id):
            del self._machines[machine.id or ""]
        for name in [v.name for v in self._volumes.values() if v.tenant_id == tenant_id]:
            del self._volumes[name]

    async def status(self, tenant_id: str) -> Machine:
        self._check_engine()
        found = self._of(tenant_id)
        return found[0] if found else Machine.absent(tenant_id)

    async def logs(self, tenant_id: str, tail: int = 100) -> list[str]:
        self._check_engine()
        found = self._of(tenant_id)
        if not found:
            raise MachineNotFound(tenant_id)
        lines = self._machines[found[0].id or ""].logs
        return lines[-tail:] if tail > 0 else []

    async def list_machines(self) -> list[Machine]:
        self._check_engine()
        return [e.machine for e in self._machines.values()]

    async def list_volumes(self) -> list[Volume]:
        self._check_engine()
        return list(self._volumes.values())

    async def remove_machine(self, machine_id: str) -> None:
        self._check_engine()
        self._machines.pop(machine_id, None)

    async def remove_volume(self, name: str) -> None:
        self._check_engine()
        if any(e.machine.volume == name for e in self._machines.values()):
            raise NameConflict(f"volume {name} is in use")
        self._volumes.pop(name, None)

    async def ensure_routes(self) -> None:
        self._check_engine()

    async def aclose(self) -> None:
        return None

    # ------------------------------------------------- what an operator does behind the App's back

    def kill(self, tenant_id: str, *, exit_code: int = 1) -> None:
        """The container died on its own (and no restart policy brought it back)."""
        for machine in self._of(tenant_id):
            died = replace(
                machine, state=MachineState.EXITED, upstream=None, published_port=None, exit_code=exit_code
            )
            self._put(died, "died")

    def crash_loop(self, tenant_id: str, *, exit_code: int = 1, restarts: int = 3) -> None:
        """The container keeps dying and the restart policy keeps bringing it back."""
        for machine in self._of(tenant_id):
            self._put(
                replace(
                    machine,
                    state=MachineState.RESTARTING,
                    upstream=None,
                    published_port=None,
                    exit_code=exit_code,
                    restart_count=machine.restart_count + restarts,
                ),
                "crashed",
            )

    def remove_behind_back(self, tenant_id: str) -> None:
        """`docker rm -f`: the container goes, the volume stays."""
        for machine in self._of(tenant_id):
            del self._machines[machine.id or ""]

    def add_orphan(self, tenant_id: str, slug: str, *, created_at: datetime | None = None) -> Machine:
        """A labelled container and volume for a tenant the App does not know."""
        when = created_at or datetime.now(UTC)
        volume = Volume(name=f"cial-tenant-{tenant_id}-data", tenant_id=tenant_id, slug=slug, created_at=when)
        self._volumes[volume.name] = volume
        machine = Machine(
            tenant_id=tenant_id,
            slug=slug,
            state=MachineState.RUNNING,
            id=f"mem{next(self._ids):09d}",
            name=f"cial-tenant-{slug}",
            image="cial-tenant:dev",
            volume=volume.name,
            created_at=when,
        )
        self._machines[machine.id or ""] = _Entry(machine, [])
        return machine

    # ------------------------------------------------------------------------------- plumbing

    def _check_engine(self) -> None:
        if not self.engine_up:
            raise EngineUnavailable("the memory engine is down (engine_up is False)")

    def _of(self, tenant_id: str) -> list[Machine]:
        found = [e.machine for e in self._machines.values() if e.machine.tenant_id == tenant_id]
        return sorted(found, key=preference)

    def _ensure_volume(self, spec: MachineSpec) -> None:
        existing = self._volumes.get(spec.volume_name)
        if existing is not None and existing.tenant_id != spec.tenant_id:
            raise NameConflict(f"volume {spec.volume_name} belongs to tenant {existing.tenant_id}")
        if existing is None:
            self._volumes[spec.volume_name] = Volume(
                name=spec.volume_name, tenant_id=spec.tenant_id, slug=spec.slug, created_at=datetime.now(UTC)
            )

    def _set_running(self, machine: Machine, published_port: int | None) -> Machine:
        port = published_port if published_port is not None else next(self._ports)
        upstream = Endpoint(machine.name or machine.tenant_id, MACHINE_PORT)
        running = replace(
            machine, state=MachineState.RUNNING, upstream=upstream, published_port=port, exit_code=None
        )
        return self._put(running, "started")

    def _put(self, machine: Machine, event: str) -> Machine:
        entry = self._machines[machine.id or ""]
        entry.machine = machine
        entry.logs.append(f"{event} {machine.name}")
        return machine
