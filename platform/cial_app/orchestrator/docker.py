"""The Docker driver: the `Orchestrator` Protocol on the Docker Engine API, through the `docker` SDK.

The SDK is blocking, so every engine call runs in a worker thread (`asyncio.to_thread`) and the
interface stays async. SDK and `requests` exceptions never leave this module: `_translated` turns
them into the orchestrator's typed errors at the boundary, with a reason a user can act on.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container
from docker.models.volumes import Volume as DockerVolume
from docker.types import LogConfig

from .base import (
    DATA_DIR,
    INSTANCE_LABEL,
    MACHINE_PORT,
    SLUG_LABEL,
    TENANT_LABEL,
    EngineError,
    EngineUnavailable,
    Health,
    ImageNotFound,
    Machine,
    MachineNotFound,
    MachineSpec,
    MachineState,
    NameConflict,
    NetworkNotFound,
    OrchestratorError,
    PortConflict,
    Volume,
    preference,
)

T = TypeVar("T")

_PORT_KEY = f"{MACHINE_PORT}/tcp"
_NAME_ATTEMPTS = 20
_NAME_RETRY_DELAY = 0.1
_ADDRESS = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}:\d+")
_DEFAULT_SOCKET = "unix:///var/run/docker.sock"

# Dropped on top of Docker's default set: nothing in a tenant needs raw sockets, device nodes,
# chroot, low ports (the edge listens on 8080) or to grant file capabilities. The supervisor keeps
# SETUID/SETGID/KILL/CHOWN, which it needs to run each service as its own user.
DEFAULT_CAP_DROP = ("NET_RAW", "MKNOD", "SYS_CHROOT", "NET_BIND_SERVICE", "SETFCAP", "AUDIT_WRITE")

# Exit codes that mean "it was asked to stop": 0, SIGTERM (143) and the SIGKILL a stop sends after
# its grace period (137, unless the kernel's OOM killer sent it).
_STOP_EXIT_CODES = frozenset({0, 143, 137})


# A container in these states cannot serve the spec as it is: create() replaces it.
_REPLACE = frozenset({MachineState.DEAD, MachineState.REMOVING})


# The SDK's type stubs list only "always" and "on-failure"; the engine accepts this one too.
_UNLESS_STOPPED: Any = {"Name": "unless-stopped", "MaximumRetryCount": 0}


def _published(host_port: int | None) -> dict[str, Any]:
    """Port 8080 on 127.0.0.1 only; an empty host port makes the engine pick a free one."""
    return {_PORT_KEY: ("127.0.0.1", host_port if host_port is not None else "")}


class DockerOrchestrator:
    """Tenant machines as Docker containers on one engine."""

    driver = "docker"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        stop_timeout: int = 10,
        log_max_size: str = "10m",
        log_max_files: int = 3,
        cap_drop: tuple[str, ...] = DEFAULT_CAP_DROP,
        instance: str | None = None,
    ) -> None:
        """`instance`: when set, every resource is also labelled cial.instance=<instance> and only
        those are seen, adopted or removed; when None, everything labelled cial.tenant is ours."""
        self._base_url = base_url
        self._instance = instance
        self._where = base_url or os.environ.get("DOCKER_HOST") or _DEFAULT_SOCKET
        self._timeout = timeout
        self._stop_timeout = stop_timeout
        self._log_config = LogConfig(
            type=LogConfig.types.JSON, config={"max-size": log_max_size, "max-file": str(log_max_files)}
        )
        self._cap_drop = list(cap_drop)
        self._client: docker.DockerClient | None = None
        self._client_lock = threading.Lock()
        # One operation at a time per tenant within this process; across processes (an App restart)
        # the container name is the lock: Docker refuses a second container of the same name.
        self._tenant_locks: dict[str, asyncio.Lock] = {}

    # ---------------------------------------------------------------------------- the Protocol

    async def create(self, spec: MachineSpec) -> Machine:
        async with self._lock(spec.tenant_id):
            return await self._run(f"create the container for tenant {spec.slug}", self._create, spec)

    async def start(self, tenant_id: str) -> Machine:
        async with self._lock(tenant_id):
            return await self._run(f"start tenant {tenant_id}", self._start, tenant_id)

    async def stop(self, tenant_id: str) -> Machine:
        async with self._lock(tenant_id):
            return await self._run(f"stop tenant {tenant_id}", self._stop, tenant_id)

    async def restart(self, tenant_id: str) -> Machine:
        async with self._lock(tenant_id):
            await self._run(f"stop tenant {tenant_id}", self._stop, tenant_id)
            return await self._run(f"start tenant {tenant_id}", self._start, tenant_id)

    async def destroy(self, tenant_id: str) -> None:
        async with self._lock(tenant_id):
            await self._run(f"destroy tenant {tenant_id}", self._destroy, tenant_id)

    async def status(self, tenant_id: str) -> Machine:
        return await self._run(f"inspect tenant {tenant_id}", self._status, tenant_id)

    async def logs(self, tenant_id: str, tail: int = 100) -> list[str]:
        return await self._run(f"read the logs of tenant {tenant_id}", self._logs, tenant_id, tail)

    async def list_machines(self) -> list[Machine]:
        return await self._run("list tenant containers", self._list_machines)

    async def list_volumes(self) -> list[Volume]:
        return await self._run("list tenant volumes", self._list_volumes)

    async def remove_machine(self, machine_id: str) -> None:
        await self._run(f"remove container {machine_id[:12]}", self._remove_machine, machine_id)

    async def remove_volume(self, name: str) -> None:
        await self._run(f"remove volume {name}", self._remove_volume, name)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(client.close)

    # ------------------------------------------------------------------------------- plumbing

    def _lock(self, tenant_id: str) -> asyncio.Lock:
        return self._tenant_locks.setdefault(tenant_id, asyncio.Lock())

    async def _run(self, doing: str, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(self._call, doing, fn, *args)

    def _call(self, doing: str, fn: Callable[..., T], *args: Any) -> T:
        with _translated(doing, self._where):
            return fn(*args)

    @property
    def _docker(self) -> docker.DockerClient:
        # Built on first use, not in __init__: the SDK asks the engine for its API version when it
        # connects, and an App started while Docker is down must still start (and recover later).
        with self._client_lock:
            if self._client is None:
                try:
                    if self._base_url is None:
                        # DOCKER_HOST and its TLS settings, as the docker CLI reads them.
                        self._client = docker.DockerClient.from_env(timeout=int(self._timeout))
                    else:
                        self._client = docker.DockerClient(
                            base_url=self._base_url, timeout=int(self._timeout)
                        )
                except docker.errors.DockerException as exc:
                    raise EngineUnavailable(_unreachable(self._where, exc)) from exc
            return self._client

    # ------------------------------------------------------------------- blocking operations

    def _create(self, spec: MachineSpec) -> Machine:
        client = self._docker
        try:
            client.images.get(spec.image)
        except docker.errors.ImageNotFound as exc:
            # No registry is reachable here, and pulling is never the right fix: say how to build it.
            raise ImageNotFound(spec.image, " on this Docker engine (build it: make images)") from exc
        if spec.network is not None:
            try:
                client.networks.get(spec.network)
            except docker.errors.NotFound as exc:
                raise NetworkNotFound(spec.network) from exc

        container = self._adopt(spec)
        if container is None:
            self._ensure_volume(spec)
            container = self._create_container(spec)
        machine = _machine(container.attrs)
        if machine.state is MachineState.PAUSED:
            container.unpause()
        elif not machine.state.is_up:
            container.start()
        container.reload()  # the published host port is only known once it runs
        return _machine(container.attrs)

    def _adopt(self, spec: MachineSpec) -> Container | None:
        """The tenant's existing container if it can serve `spec`; everything else of it removed."""
        found = self._containers(spec.tenant_id)
        if not found:
            return None
        keep, *extras = found
        for extra in extras:
            _ignore_missing(partial(extra.remove, force=True))
        machine = _machine(keep.attrs)
        if machine.state in _REPLACE or machine.image != spec.image or machine.name != spec.machine_name:
            # The volume outlives the container, so replacing it loses no data.
            _ignore_missing(partial(keep.remove, force=True))
            return None
        return keep

    def _ensure_volume(self, spec: MachineSpec) -> None:
        client = self._docker
        try:
            volume = client.volumes.get(spec.volume_name)
        except docker.errors.NotFound:
            # Creating an existing local volume is a no-op in Docker, so a concurrent create is safe.
            client.volumes.create(name=spec.volume_name, driver="local", labels=self._labels(spec))
            return
        labels = volume.attrs.get("Labels") or {}
        if not self._ours(labels) or labels.get(TENANT_LABEL) != spec.tenant_id:
            # Mounting someone else's data into a tenant would be a leak: refuse, loudly.
            raise NameConflict(
                f"volume {spec.volume_name} exists but belongs to {self._owner(labels)}; it was not mounted"
            )

    def _create_container(self, spec: MachineSpec) -> Container:
        # A few rounds: each one either creates, adopts, or clears a leftover and tries again.
        for _attempt in range(_NAME_ATTEMPTS):
            try:
                return self._docker.containers.create(
                    spec.image,
                    name=spec.machine_name,
                    hostname=spec.machine_name,
                    environment={**spec.env, "TENANT_ID": spec.slug},
                    labels=self._labels(spec),
                    volumes={spec.volume_name: {"bind": DATA_DIR, "mode": "rw"}},
                    ports=_published(spec.host_port),
                    network=spec.network,
                    # unless-stopped rather than on-failure: a crashed tenant comes back by
                    # itself (the supervisor exits non-zero when a service dies), and so does
                    # every running tenant after a Docker or host restart, even before the App is
                    # up; a stop the App asked for is remembered across those restarts. A crash
                    # loop shows as RESTARTING with a growing restart count, not as silence.
                    restart_policy=_UNLESS_STOPPED,
                    mem_limit=spec.memory_bytes,
                    memswap_limit=spec.memory_bytes,  # no swap on top: the limit is the limit
                    nano_cpus=int(spec.cpus * 1e9),
                    pids_limit=spec.pids_limit,
                    security_opt=["no-new-privileges:true"],
                    cap_drop=self._cap_drop,
                    privileged=False,
                    log_config=self._log_config,
                )
            except docker.errors.APIError as exc:
                if exc.status_code != 409:
                    raise
                # The name is taken: by this tenant (a concurrent create won the race), by a
                # leftover of a deleted tenant that had the same slug, or by something not ours.
                try:
                    existing = self._docker.containers.get(spec.machine_name)
                except docker.errors.NotFound:
                    # The other creator holds the name but its container is not registered yet
                    # (or it was just removed): give it a moment, then look again.
                    time.sleep(_NAME_RETRY_DELAY)
                    continue
                if not self._ours(existing.labels):
                    raise NameConflict(
                        f"a container named {spec.machine_name} exists and belongs to "
                        f"{self._owner(existing.labels)}; remove or rename it"
                    ) from exc
                if existing.labels.get(TENANT_LABEL) == spec.tenant_id:
                    return existing
                _ignore_missing(partial(existing.remove, force=True))
        raise NameConflict(f"the name {spec.machine_name} stayed taken while creating the container")

    def _start(self, tenant_id: str) -> Machine:
        found = self._containers(tenant_id)
        if not found:
            raise MachineNotFound(tenant_id)
        container = found[0]
        state = _machine(container.attrs).state
        if state is MachineState.PAUSED:
            container.unpause()
        elif not state.is_up:
            container.start()
        container.reload()
        return _machine(container.attrs)

    def _stop(self, tenant_id: str) -> Machine:
        found = self._containers(tenant_id)
        for container in found:  # duplicates too: "stopped" means nothing of it runs
            if _machine(container.attrs).state in (
                MachineState.RUNNING,
                MachineState.RESTARTING,
                MachineState.PAUSED,
            ):
                container.stop(timeout=self._stop_timeout)
        if not found:
            return Machine.absent(tenant_id)
        found[0].reload()
        return _machine(found[0].attrs)

    def _destroy(self, tenant_id: str) -> None:
        for container in self._containers(tenant_id):
            _ignore_missing(partial(container.remove, force=True))
        for volume in self._volumes(tenant_id):
            _ignore_missing(volume.remove)

    def _status(self, tenant_id: str) -> Machine:
        found = self._containers(tenant_id)
        return _machine(found[0].attrs) if found else Machine.absent(tenant_id)

    def _logs(self, tenant_id: str, tail: int) -> list[str]:
        found = self._containers(tenant_id)
        if not found:
            raise MachineNotFound(tenant_id)
        raw = found[0].logs(stdout=True, stderr=True, tail=max(tail, 0), timestamps=False)
        return raw.decode("utf-8", errors="replace").splitlines()

    def _list_machines(self) -> list[Machine]:
        return [_machine(c.attrs) for c in self._labelled_containers()]

    def _list_volumes(self) -> list[Volume]:
        return [_volume(v) for v in self._labelled_volumes()]

    def _remove_machine(self, machine_id: str) -> None:
        try:
            container = self._docker.containers.get(machine_id)
        except docker.errors.NotFound:
            return
        if not self._ours(container.labels):
            raise NameConflict(
                f"container {machine_id[:12]} belongs to {self._owner(container.labels)}; not removed"
            )
        _ignore_missing(partial(container.remove, force=True))

    def _remove_volume(self, name: str) -> None:
        try:
            volume = self._docker.volumes.get(name)
        except docker.errors.NotFound:
            return
        labels = volume.attrs.get("Labels") or {}
        if not self._ours(labels):
            raise NameConflict(f"volume {name} belongs to {self._owner(labels)}; not removed")
        _ignore_missing(volume.remove)

    def _containers(self, tenant_id: str) -> list[Container]:
        """This tenant's containers, the one to keep first."""
        found = self._labelled_containers(tenant_id)
        return sorted(found, key=lambda c: preference(_machine(c.attrs)))

    def _volumes(self, tenant_id: str) -> list[DockerVolume]:
        return self._labelled_volumes(tenant_id)

    def _labelled_containers(self, tenant_id: str | None = None) -> list[Container]:
        filters: dict[str, str | list[str] | bool] = {"label": self._selector(tenant_id)}
        return self._docker.containers.list(all=True, filters=filters, ignore_removed=True)

    def _labelled_volumes(self, tenant_id: str | None = None) -> list[DockerVolume]:
        return self._docker.volumes.list(filters={"label": self._selector(tenant_id)})

    # ------------------------------------------------------------------------------ ownership

    def _selector(self, tenant_id: str | None) -> list[str]:
        """Label filters (ANDed by Docker) for our resources, or one tenant's."""
        selector = [TENANT_LABEL if tenant_id is None else f"{TENANT_LABEL}={tenant_id}"]
        if self._instance is not None:
            selector.append(f"{INSTANCE_LABEL}={self._instance}")
        return selector

    def _labels(self, spec: MachineSpec) -> dict[str, str]:
        labels = spec.all_labels
        if self._instance is not None:
            labels[INSTANCE_LABEL] = self._instance
        return labels

    def _ours(self, labels: dict[str, str]) -> bool:
        if TENANT_LABEL not in labels:
            return False
        return self._instance is None or labels.get(INSTANCE_LABEL) == self._instance

    @staticmethod
    def _owner(labels: dict[str, str]) -> str:
        if TENANT_LABEL not in labels:
            return "something other than Cial"
        instance = labels.get(INSTANCE_LABEL)
        where = f" of Cial instance {instance!r}" if instance else ""
        return f"tenant {labels[TENANT_LABEL]}{where}"


# -------------------------------------------------------------------------------- conversions


def _machine(attrs: dict[str, Any]) -> Machine:
    config = attrs.get("Config") or {}
    labels: dict[str, str] = config.get("Labels") or {}
    state: dict[str, Any] = attrs.get("State") or {}
    network = attrs.get("NetworkSettings") or {}
    name = str(attrs.get("Name", "")).lstrip("/") or None
    mounts = attrs.get("Mounts") or []
    return Machine(
        tenant_id=labels.get(TENANT_LABEL, ""),
        slug=labels.get(SLUG_LABEL),
        state=_state(state),
        id=attrs.get("Id"),
        name=name,
        image=config.get("Image"),
        host_port=_host_port(network.get("Ports") or {}),
        internal_host=_internal_host(name, network.get("Networks") or {}),
        health=_health(state),
        exit_code=state.get("ExitCode") if state.get("Status") in ("exited", "dead") else None,
        restart_count=int(attrs.get("RestartCount") or 0),
        error=_error(state),
        volume=next((m.get("Name") for m in mounts if m.get("Destination") == DATA_DIR), None),
        created_at=_timestamp(attrs.get("Created")),
    )


def _state(state: dict[str, Any]) -> MachineState:
    status = state.get("Status")
    if status == "exited":
        code = state.get("ExitCode")
        asked = code in _STOP_EXIT_CODES and not state.get("OOMKilled")
        return MachineState.STOPPED if asked else MachineState.EXITED
    return {
        "created": MachineState.CREATED,
        "running": MachineState.RUNNING,
        "restarting": MachineState.RESTARTING,
        "paused": MachineState.PAUSED,
        "removing": MachineState.REMOVING,
        "dead": MachineState.DEAD,
    }.get(str(status), MachineState.DEAD)


def _health(state: dict[str, Any]) -> Health:
    status = (state.get("Health") or {}).get("Status")
    try:
        return Health(str(status))
    except ValueError:
        return Health.UNKNOWN


def _error(state: dict[str, Any]) -> str | None:
    if state.get("OOMKilled"):
        return "killed: out of memory (raise the memory limit)"
    return state.get("Error") or None


def _host_port(ports: dict[str, Any]) -> int | None:
    bindings = ports.get(_PORT_KEY) or []
    for binding in bindings:
        if binding.get("HostIp") in ("127.0.0.1", "") and binding.get("HostPort"):
            return int(binding["HostPort"])
    return None


def _internal_host(name: str | None, networks: dict[str, Any]) -> str | None:
    # On a user-defined network Docker's DNS resolves the container's name; on the default bridge
    # only its address works (reachable from the host, not from other containers by name).
    if name and any(net not in ("bridge", "host", "none") for net in networks):
        return name
    bridge = networks.get("bridge") or {}
    return bridge.get("IPAddress") or None


def _volume(volume: DockerVolume) -> Volume:
    labels = volume.attrs.get("Labels") or {}
    return Volume(
        name=str(volume.name),
        tenant_id=labels.get(TENANT_LABEL, ""),
        slug=labels.get(SLUG_LABEL),
        # Docker reports a volume's creation to the second; rounding up keeps the reconciler's
        # "created after the tenants were read" guard on the safe side (keep, retry next round).
        created_at=_timestamp(volume.attrs.get("CreatedAt"), round_up=True),
    )


def _timestamp(value: object, *, round_up: bool = False) -> datetime | None:
    """Docker's RFC 3339 with nanoseconds -> an aware datetime (Python parses microseconds)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed + timedelta(seconds=1) if round_up and not dot else parsed


# ---------------------------------------------------------------------------------- errors


def _ignore_missing(remove: Callable[[], object]) -> None:
    try:
        remove()
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        # Two removals racing (the reconciler and an admin action): the loser is told "already in
        # progress"; the result is what both wanted.
        if "already in progress" not in str(exc.explanation or ""):
            raise


def _unreachable(where: str, exc: BaseException) -> str:
    return f"the Docker engine at {where} is unreachable ({_short(exc)}); is Docker running?"


def _short(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("No such file or directory", "Connection refused", "Permission denied", "timed out"):
        if marker.lower() in text.lower():
            return marker.lower()
    return text if len(text) < 200 else text[:197] + "..."


@contextmanager
def _translated(doing: str, where: str) -> Iterator[None]:
    """SDK exceptions -> the orchestrator's own, each with the reason a user needs."""
    try:
        yield
    except OrchestratorError:
        raise
    except docker.errors.ImageNotFound as exc:
        raise ImageNotFound("", reason=f"could not {doing}: {exc.explanation or exc}") from exc
    except docker.errors.APIError as exc:
        explanation = str(exc.explanation or exc)
        lowered = explanation.lower()
        if "port is already allocated" in lowered or "address already in use" in lowered:
            address = _ADDRESS.search(explanation)
            port = address.group(0) if address else "the host port"
            raise PortConflict(f"could not {doing}: {port} is already in use on this host") from exc
        raise EngineError(f"could not {doing}: Docker said {explanation}") from exc
    except requests.exceptions.Timeout as exc:
        raise EngineUnavailable(
            f"could not {doing}: the Docker engine at {where} did not answer in time"
        ) from exc
    except requests.exceptions.ConnectionError as exc:
        raise EngineUnavailable(f"could not {doing}: {_unreachable(where, exc)}") from exc
    except docker.errors.DockerException as exc:
        raise EngineError(f"could not {doing}: {exc}") from exc
