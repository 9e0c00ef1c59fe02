"""The orchestrator's interface: value types, typed errors and the `Orchestrator` Protocol.

Nothing here knows Docker. A driver (Docker here, Fly Machines in production) turns these into
engine calls; the App only ever sees these types, so a driver can be swapped without touching it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from .errors import InvalidSpec

# Every resource the App owns carries this label, so what it owns can always be found (and orphans
# removed) without any state outside the engine.
TENANT_LABEL = "cial.tenant"
SLUG_LABEL = "cial.slug"
# Optional: which App instance owns the resource, so two instances sharing one engine (a spec run
# beside `make local-up`) never adopt or sweep each other's tenants.
INSTANCE_LABEL = "cial.instance"

MACHINE_PORT = 8080  # the tenant's edge: the only port a tenant container exposes
# Who the machine is, in its environment: the tenant's id (a UUID, as everywhere in the App) and
# its slug (its host label); both are set by the orchestrator from the spec.
TENANT_ID_ENV = "TENANT_ID"
TENANT_SLUG_ENV = "TENANT_SLUG"
MACHINE_IDENTITY_ENV = frozenset({TENANT_ID_ENV, TENANT_SLUG_ENV})
DATA_DIR = "/var/lib/cial"
HEALTH_PATH = "/.cial/api/healthz"

MiB = 1024 * 1024
DEFAULT_MEMORY_BYTES = 256 * MiB  # the smallest Fly Machine: a tenant must fit in it
# Two CPUs (or all there are, if fewer): a tenant's boot runs its two halves' interpreters at
# once, and at one CPU it took 4.30 s to answer instead of 1.86 s (bench/tenant_image.py --cpus 1
# and --cpus 2, side by side). The cap still keeps one tenant from taking more than two cores.
DEFAULT_CPUS = float(min(2, os.cpu_count() or 1))
DEFAULT_PIDS_LIMIT = 256

# Docker names allow more, but ids and slugs end up in names, labels and DNS: keep them boring.
_TENANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgKMG]?)(?:i?[bB])?\s*$")


def machine_name(slug: str) -> str:
    """The tenant container's name: stable, so a retried create finds the first attempt's container."""
    return f"cial-tenant-{slug}"


def volume_name(tenant_id: str) -> str:
    """Named after the id, not the slug: a tenant re-created under an old slug never inherits data."""
    return f"cial-tenant-{tenant_id}-data"


def parse_memory(value: str | int) -> int:
    """`"256m"`, `"1g"`, `"512MiB"` or a byte count -> bytes (settings are written by people)."""
    if isinstance(value, int):
        return value
    match = _MEMORY.match(value)
    if match is None:
        raise InvalidSpec(f"memory limit {value!r} is not a size like 256m or 1g")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * {"": 1, "k": 1024, "m": MiB, "g": 1024 * MiB}[unit])


# --------------------------------------------------------------------------------------------- values


class MachineState(StrEnum):
    ABSENT = "absent"  # no container for this tenant
    CREATED = "created"  # created, never started (e.g. the App crashed between create and start)
    RUNNING = "running"
    RESTARTING = "restarting"  # crashed; the engine's restart policy is bringing it back
    PAUSED = "paused"
    STOPPED = "stopped"  # exited because it was asked to (exit 0, SIGTERM, or killed by a stop)
    EXITED = "exited"  # exited on its own with an error (crash, out of memory)
    REMOVING = "removing"
    DEAD = "dead"  # the engine failed to stop or remove it; only replacing it helps

    @property
    def is_up(self) -> bool:
        """Running, or about to be again without anyone's help."""
        return self in (MachineState.RUNNING, MachineState.RESTARTING)


class Desired(StrEnum):
    """What the owner wants of a tenant's machine (the App stores it as the tenant's desired state)."""

    RUNNING = "running"
    STOPPED = "stopped"  # the machine may stay, stopped; data is kept
    ABSENT = "absent"  # deletion asked for: machine and volume go, then the tenant's row


class Health(StrEnum):
    """The engine's own view of the image's HEALTHCHECK (UNKNOWN when the image has none)."""

    UNKNOWN = "unknown"
    STARTING = "starting"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A host and port that a tenant's edge (port 8080 inside the machine) answers on."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self}"


@dataclass(frozen=True, slots=True)
class MachineSpec:
    """Everything needed to create one tenant's machine. The recipe itself (no bind mounts, not
    privileged, no-new-privileges, 127.0.0.1 only) is fixed in the driver, not open to callers."""

    tenant_id: str
    slug: str
    image: str
    env: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    memory_bytes: int = DEFAULT_MEMORY_BYTES
    cpus: float = DEFAULT_CPUS
    pids_limit: int = DEFAULT_PIDS_LIMIT
    network: str | None = None  # join this network so the router can reach the tenant by name
    published_port: int | None = None  # on the host's loopback; None: the engine picks a free port

    def __post_init__(self) -> None:
        if not _TENANT_ID.match(self.tenant_id):
            raise InvalidSpec(f"tenant id {self.tenant_id!r} must be 1-64 of [A-Za-z0-9_.-]")
        if not _SLUG.match(self.slug):
            raise InvalidSpec(f"slug {self.slug!r} must be 1-40 of [a-z0-9-], not starting or ending with -")
        if not self.image.strip():
            raise InvalidSpec("image must not be empty")
        for name in self.env:
            if not _ENV_NAME.match(name):
                raise InvalidSpec(f"environment variable name {name!r} is not valid")
            if name in MACHINE_IDENTITY_ENV:
                raise InvalidSpec(f"{name} is set by the orchestrator and cannot be overridden")
        for label in self.labels:
            if label.startswith("cial."):
                raise InvalidSpec(f"label {label!r}: the cial.* labels are set by the orchestrator")
        if self.memory_bytes < 16 * MiB:
            raise InvalidSpec(f"memory limit {self.memory_bytes} bytes is below 16 MiB")
        if not 0 < self.cpus <= 64:
            raise InvalidSpec(f"cpu limit {self.cpus} must be above 0 and at most 64")
        if self.pids_limit < 16:
            raise InvalidSpec(f"pids limit {self.pids_limit} is below 16")
        if self.published_port is not None and not 1 <= self.published_port <= 65535:
            raise InvalidSpec(f"published port {self.published_port} is not a TCP port")

    @property
    def machine_name(self) -> str:
        return machine_name(self.slug)

    @property
    def volume_name(self) -> str:
        return volume_name(self.tenant_id)

    @property
    def all_labels(self) -> dict[str, str]:
        return {**self.labels, TENANT_LABEL: self.tenant_id, SLUG_LABEL: self.slug}

    @property
    def all_env(self) -> dict[str, str]:
        """The environment the machine gets: the caller's, plus who the tenant is."""
        return {**self.env, TENANT_ID_ENV: self.tenant_id, TENANT_SLUG_ENV: self.slug}


@dataclass(frozen=True, slots=True)
class MachineTemplate:
    """The App's settings turned into a recipe: one template, a spec per tenant."""

    image: str = "cial-tenant:dev"
    memory_bytes: int = DEFAULT_MEMORY_BYTES
    cpus: float = DEFAULT_CPUS
    pids_limit: int = DEFAULT_PIDS_LIMIT
    network: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)

    def spec_for(self, tenant_id: str, slug: str, env: Mapping[str, str] | None = None) -> MachineSpec:
        """`env`: what this tenant gets besides the template's (its own keys, say); it wins over
        the template's on a shared name. The driver passes it through without looking at it."""
        return MachineSpec(
            tenant_id=tenant_id,
            slug=slug,
            image=self.image,
            env={**self.env, **(env or {})},
            memory_bytes=self.memory_bytes,
            cpus=self.cpus,
            pids_limit=self.pids_limit,
            network=self.network,
        )


@dataclass(frozen=True, slots=True)
class Machine:
    """What the engine says about one tenant's machine right now."""

    tenant_id: str
    state: MachineState
    slug: str | None = None
    id: str | None = None  # the engine's id (a container id); None when absent
    name: str | None = None
    image: str | None = None
    # Where the router dials the machine's edge (a name on the tenant's network, or an address);
    # None while it is not running. Every driver has one; only some publish a port besides.
    upstream: Endpoint | None = None
    # The edge published on the host's 127.0.0.1 (Docker only; changes on every start).
    published_port: int | None = None
    health: Health = Health.UNKNOWN
    exit_code: int | None = None
    restart_count: int = 0
    error: str | None = None  # the engine's own message (e.g. "out of memory")
    volume: str | None = None
    created_at: datetime | None = None

    @classmethod
    def absent(cls, tenant_id: str) -> Machine:
        return cls(tenant_id=tenant_id, state=MachineState.ABSENT)

    @property
    def exists(self) -> bool:
        return self.state is not MachineState.ABSENT

    @property
    def published(self) -> Endpoint | None:
        return None if self.published_port is None else Endpoint("127.0.0.1", self.published_port)


# Most-wanted first: when a tenant has two containers (a crash mid-create, a race between two
# processes), the one that is serving is kept and the others go.
_PREFERENCE = {
    state: rank
    for rank, state in enumerate(
        (
            MachineState.RUNNING,
            MachineState.RESTARTING,
            MachineState.PAUSED,
            MachineState.CREATED,
            MachineState.STOPPED,
            MachineState.EXITED,
            MachineState.REMOVING,
            MachineState.DEAD,
            MachineState.ABSENT,
        )
    )
}


def preference(machine: Machine) -> tuple[int, float]:
    """Sort key: the machine to keep first (best state, then newest)."""
    created = machine.created_at.timestamp() if machine.created_at else 0.0
    return (_PREFERENCE[machine.state], -created)


@dataclass(frozen=True, slots=True)
class Volume:
    name: str
    tenant_id: str
    slug: str | None = None
    created_at: datetime | None = None


# ------------------------------------------------------------------------------------------- protocol


@runtime_checkable
class Orchestrator(Protocol):
    """One interface for every driver. All methods are async; all failures are OrchestratorError.

    Machines are addressed by tenant id (the `cial.tenant` label), never by engine id, so a caller
    needs no state of its own to find what it created, even after a crash."""

    driver: str

    async def create(self, spec: MachineSpec) -> Machine:
        """Make sure the tenant's machine exists and is running; return it.

        Idempotent: the container found by label or name is reused (started if need be); one that
        cannot serve this spec (dead, other image) is replaced; extra ones are removed. The named
        volume is created if missing and never replaced."""
        ...

    async def start(self, tenant_id: str) -> Machine:
        """Start (or unpause) the machine; a no-op if up. MachineNotFound if there is none."""
        ...

    async def stop(self, tenant_id: str) -> Machine:
        """Stop the machine; a no-op if already stopped, and if absent (returns ABSENT)."""
        ...

    async def restart(self, tenant_id: str) -> Machine:
        """Stop then start. MachineNotFound if there is none."""
        ...

    async def destroy(self, tenant_id: str) -> None:
        """Remove the tenant's containers AND volumes, data included. Idempotent."""
        ...

    async def ensure_routes(self) -> None:
        """Make every machine reachable by the router (Docker with per-tenant networks: attach the
        router to each); a no-op where the platform routes by itself. Called every reconcile round."""
        ...

    async def status(self, tenant_id: str) -> Machine:
        """The machine as it is now; state ABSENT when there is none."""
        ...

    async def logs(self, tenant_id: str, tail: int = 100) -> list[str]:
        """The last `tail` lines of output. MachineNotFound if there is no machine."""
        ...

    async def list_machines(self) -> list[Machine]:
        """Every machine labelled `cial.tenant`, whatever its state (for the reconciler)."""
        ...

    async def list_volumes(self) -> list[Volume]:
        """Every volume labelled `cial.tenant` (for the reconciler's orphan sweep)."""
        ...

    async def remove_machine(self, machine_id: str) -> None:
        """Remove one machine by engine id (orphans, duplicates). Idempotent; refuses unlabelled ones."""
        ...

    async def remove_volume(self, name: str) -> None:
        """Remove one volume by name (orphans). Idempotent; refuses unlabelled ones."""
        ...

    async def aclose(self) -> None:
        """Release the engine connection."""
        ...
