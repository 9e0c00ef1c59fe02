"""The Docker driver: the `Orchestrator` Protocol on the Docker Engine API, through the `docker` SDK.

The SDK is blocking, so every engine call runs in a worker thread (`asyncio.to_thread`) and the
interface stays async. SDK and `requests` exceptions never leave this module: `docker_errors`
turns them into the orchestrator's typed errors at the boundary, with a reason a user can act on.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

import docker
import docker.errors
from docker.models.containers import Container
from docker.models.volumes import Volume as DockerVolume
from docker.types import LogConfig

from .base import TENANT_LABEL, Machine, MachineSpec, MachineState, Volume, preference
from .docker_connect import connect, engine_address
from .docker_errors import ignore_missing, translated
from .docker_inspect import machine_of, volume_of
from .docker_networks import TenantNetworks
from .docker_recipe import RECIPE_LABEL, container_options, recipe_hash
from .errors import ImageNotFound, MachineNotFound, NameConflict, NetworkNotFound
from .ownership import Ownership
from .timeline import Timeline

log = logging.getLogger(__name__)

T = TypeVar("T")

_NAME_ATTEMPTS = 20
_NAME_RETRY_DELAY = 0.1

# A container in these states cannot serve the spec as it is: create() replaces it.
_REPLACE = frozenset({MachineState.DEAD, MachineState.REMOVING})


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
        instance: str | None = None,
        subnet_pool: str | None = None,
    ) -> None:
        """`instance`: when set, every resource is also labelled cial.instance=<instance> and only
        those are seen, adopted or removed; when None, everything labelled cial.tenant is ours.
        `subnet_pool`: when set, each tenant gets a network of its own from it (docker_networks),
        which only the router joins; the spec's shared `network` is then not used."""
        self._subnet_pool = subnet_pool
        self._base_url = base_url
        self._ownership = Ownership(instance)
        self._where = engine_address(base_url)
        self._timeout = timeout
        self._stop_timeout = stop_timeout
        self._log_config = LogConfig(
            type=LogConfig.types.JSON, config={"max-size": log_max_size, "max-file": str(log_max_files)}
        )
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

    async def ensure_routes(self) -> None:
        if self._subnet_pool is not None:
            await self._run("attach the router to tenant networks", self._attach_routers)

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
        with translated(doing, self._where):
            return fn(*args)

    @property
    def _docker(self) -> docker.DockerClient:
        # Built on first use, not in __init__: connecting asks the engine for its API version, and
        # an App started while Docker is down must still start (and recover later).
        with self._client_lock:
            if self._client is None:
                self._client = connect(self._base_url, self._timeout)
            return self._client

    # ------------------------------------------------------------------- blocking operations

    def _create(self, spec: MachineSpec) -> Machine:
        client = self._docker
        try:
            image = client.images.get(spec.image)
        except docker.errors.ImageNotFound as exc:
            # No registry is reachable here, and pulling is never the right fix: say how to build it.
            raise ImageNotFound(spec.image, " on this Docker engine (build it: make images)") from exc
        timeline = Timeline()
        networks = self._networks
        if networks is not None:
            spec = replace(spec, network=networks.ensure(spec))
            timeline.mark("network")
        elif spec.network is not None:
            try:
                client.networks.get(spec.network)
            except docker.errors.NotFound as exc:
                raise NetworkNotFound(spec.network) from exc

        # The router joins the tenant's network while the container is made and started: both
        # take a while in the engine (a veth each), and the router is needed only for the health
        # check that follows. Measured: joining took 60-190 ms, starting 430-830 ms.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="router-attach") as side:
            attached = side.submit(networks.attach_routers) if networks is not None else None
            options = self._options(spec, str(image.id))
            container = self._adopt(spec, str(image.id), options["labels"][RECIPE_LABEL])
            if container is None:
                self._ensure_volume(spec)
                container = self._create_container(spec, options)
                timeline.mark("container")
            machine = machine_of(container.attrs)
            if machine.state is MachineState.PAUSED:
                container.unpause()
            elif not machine.state.is_up:
                container.start()
            timeline.mark("start")
            if attached is not None:
                attached.result()
                timeline.mark("router")
        container.reload()  # the published host port is only known once it runs
        log.info("tenant %s: container up in %s", spec.slug, timeline)
        return machine_of(container.attrs)

    def _options(self, spec: MachineSpec, image_id: str) -> dict[str, Any]:
        """`containers.create`'s arguments for `spec`, labelled with the hash of their recipe."""
        name = self._ownership.container_name(spec)
        options = container_options(spec, name, self._ownership.labels(spec), self._log_config)
        options["labels"] = {**options["labels"], RECIPE_LABEL: recipe_hash(image_id, options)}
        return options

    def _adopt(self, spec: MachineSpec, image_id: str, recipe: str) -> Container | None:
        """The tenant's existing container if it can serve `spec`; everything else of it removed.

        Kept only if it runs this very build of the image (its id: a tag moves when the image is
        rebuilt) and this recipe; otherwise it is replaced, so a rebuilt image or a changed
        recipe reaches a tenant at its next start."""
        found = self._containers(spec.tenant_id)
        if not found:
            return None
        keep, *extras = found
        for extra in extras:
            ignore_missing(partial(extra.remove, force=True))
        machine = machine_of(keep.attrs)
        name = self._ownership.container_name(spec)
        current = keep.attrs.get("Image") == image_id and keep.labels.get(RECIPE_LABEL) == recipe
        if machine.state in _REPLACE or not current or machine.name != name:
            # The volume outlives the container, so replacing it loses no data.
            ignore_missing(partial(keep.remove, force=True))
            return None
        return keep

    def _ensure_volume(self, spec: MachineSpec) -> None:
        client = self._docker
        try:
            volume = client.volumes.get(spec.volume_name)
        except docker.errors.NotFound:
            # Creating an existing local volume is a no-op in Docker, so a concurrent create is safe.
            client.volumes.create(name=spec.volume_name, driver="local", labels=self._ownership.labels(spec))
            return
        labels = volume.attrs.get("Labels") or {}
        if not self._ownership.ours(labels) or labels.get(TENANT_LABEL) != spec.tenant_id:
            # Mounting someone else's data into a tenant would be a leak: refuse, loudly.
            raise NameConflict(
                f"volume {spec.volume_name} exists but belongs to {Ownership.owner(labels)}; "
                "it was not mounted"
            )

    def _create_container(self, spec: MachineSpec, options: dict[str, Any]) -> Container:
        # A few rounds: each one either creates, adopts, or clears a leftover and tries again.
        name = str(options["name"])
        for _attempt in range(_NAME_ATTEMPTS):
            try:
                return self._docker.containers.create(spec.image, **options)
            except docker.errors.APIError as exc:
                if exc.status_code != 409:
                    raise
                # The name is taken: by this tenant (a concurrent create won the race), by a
                # leftover of a deleted tenant that had the same slug, or by something not ours.
                try:
                    existing = self._docker.containers.get(name)
                except docker.errors.NotFound:
                    # The other creator holds the name but its container is not registered yet
                    # (or it was just removed): give it a moment, then look again.
                    time.sleep(_NAME_RETRY_DELAY)
                    continue
                if not self._ownership.ours(existing.labels):
                    raise NameConflict(
                        f"a container named {name} exists and belongs to "
                        f"{Ownership.owner(existing.labels)}; remove or rename it"
                    ) from exc
                if existing.labels.get(TENANT_LABEL) == spec.tenant_id:
                    return existing
                ignore_missing(partial(existing.remove, force=True))
        raise NameConflict(f"the name {name} stayed taken while creating the container")

    def _start(self, tenant_id: str) -> Machine:
        found = self._containers(tenant_id)
        if not found:
            raise MachineNotFound(tenant_id)
        container = found[0]
        state = machine_of(container.attrs).state
        if state is MachineState.PAUSED:
            container.unpause()
        elif not state.is_up:
            container.start()
        container.reload()
        return machine_of(container.attrs)

    def _stop(self, tenant_id: str) -> Machine:
        found = self._containers(tenant_id)
        for container in found:  # duplicates too: "stopped" means nothing of it runs
            if machine_of(container.attrs).state in (
                MachineState.RUNNING,
                MachineState.RESTARTING,
                MachineState.PAUSED,
            ):
                container.stop(timeout=self._stop_timeout)
        if not found:
            return Machine.absent(tenant_id)
        found[0].reload()
        return machine_of(found[0].attrs)

    def _destroy(self, tenant_id: str) -> None:
        for container in self._containers(tenant_id):
            ignore_missing(partial(container.remove, force=True))
        for volume in self._volumes(tenant_id):
            ignore_missing(volume.remove)
        if self._networks is not None:
            self._networks.remove(tenant_id)

    def _attach_routers(self) -> None:
        if self._networks is not None:
            self._networks.attach_routers()

    @property
    def _networks(self) -> TenantNetworks | None:
        if self._subnet_pool is None:
            return None
        return TenantNetworks(self._docker, self._ownership, self._subnet_pool)

    def _status(self, tenant_id: str) -> Machine:
        found = self._containers(tenant_id)
        return machine_of(found[0].attrs) if found else Machine.absent(tenant_id)

    def _logs(self, tenant_id: str, tail: int) -> list[str]:
        found = self._containers(tenant_id)
        if not found:
            raise MachineNotFound(tenant_id)
        raw = found[0].logs(stdout=True, stderr=True, tail=max(tail, 0), timestamps=False)
        return raw.decode("utf-8", errors="replace").splitlines()

    def _list_machines(self) -> list[Machine]:
        return [machine_of(c.attrs) for c in self._labelled_containers()]

    def _list_volumes(self) -> list[Volume]:
        return [volume_of(v) for v in self._labelled_volumes()]

    def _remove_machine(self, machine_id: str) -> None:
        try:
            container = self._docker.containers.get(machine_id)
        except docker.errors.NotFound:
            return
        if not self._ownership.ours(container.labels):
            raise NameConflict(
                f"container {machine_id[:12]} belongs to {Ownership.owner(container.labels)}; not removed"
            )
        ignore_missing(partial(container.remove, force=True))

    def _remove_volume(self, name: str) -> None:
        try:
            volume = self._docker.volumes.get(name)
        except docker.errors.NotFound:
            return
        labels = volume.attrs.get("Labels") or {}
        if not self._ownership.ours(labels):
            raise NameConflict(f"volume {name} belongs to {Ownership.owner(labels)}; not removed")
        ignore_missing(volume.remove)

    def _containers(self, tenant_id: str) -> list[Container]:
        """This tenant's containers, the one to keep first."""
        found = self._labelled_containers(tenant_id)
        return sorted(found, key=lambda c: preference(machine_of(c.attrs)))

    def _volumes(self, tenant_id: str) -> list[DockerVolume]:
        return self._labelled_volumes(tenant_id)

    def _labelled_containers(self, tenant_id: str | None = None) -> list[Container]:
        filters: dict[str, str | list[str] | bool] = {"label": self._ownership.selector(tenant_id)}
        return self._docker.containers.list(all=True, filters=filters, ignore_removed=True)

    def _labelled_volumes(self, tenant_id: str | None = None) -> list[DockerVolume]:
        return self._docker.volumes.list(filters={"label": self._ownership.selector(tenant_id)})
