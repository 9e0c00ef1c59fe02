"""One small network per tenant, so that a tenant reaches nothing but the router.

Every tenant gets its own bridge network with a /29 from a pool the App owns (six hosts: the
tenant and the router fit, hundreds of tenants fit in a /16: 8,192 subnets). The router's
container is attached to every tenant network; the App, Postgres and other tenants are not, and
Docker drops traffic between bridges, so a tenant can reach neither them by name nor by address.
The published loopback port of the host stays.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Iterator
from functools import partial

import docker
import docker.errors
from docker.types import IPAMConfig, IPAMPool

from .base import MachineSpec
from .docker_errors import ignore_missing
from .errors import EngineError
from .ownership import Ownership

log = logging.getLogger(__name__)

ROUTER_LABEL = "cial.router"  # on the router's container, its value the App instance it serves
SUBNET_PREFIX = 29
DEFAULT_POOL = "10.213.0.0/16"
_ATTEMPTS = 16
_ALLOCATING = threading.Lock()


def network_name(tenant_id: str) -> str:
    return f"cial-net-{tenant_id}"


class TenantNetworks:
    def __init__(self, client: docker.DockerClient, ownership: Ownership, pool: str) -> None:
        self._client = client
        self._ownership = ownership
        self._pool = ipaddress.ip_network(pool)
        if self._pool.prefixlen > SUBNET_PREFIX:
            raise EngineError(f"the tenant subnet pool {pool} is smaller than one /{SUBNET_PREFIX}")

    def ensure(self, spec: MachineSpec) -> str:
        """The tenant's network, created with a free /29 if it has none; returns its name."""
        name = network_name(spec.tenant_id)
        refused: set[ipaddress.IPv4Network | ipaddress.IPv6Network] = set()
        # One allocation at a time in this process: a network being created holds its subnet in the
        # engine before it shows in the list, so concurrent creates would all pick the same one.
        # Across processes (another instance on the engine) a subnet refused as overlapping is
        # skipped on the next attempt.
        with _ALLOCATING:
            for _attempt in range(_ATTEMPTS):
                existing = self._client.networks.list(names=[name])
                if existing:
                    return name
                subnet = self._free_subnet(refused)
                try:
                    self._client.networks.create(
                        name,
                        driver="bridge",
                        ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=str(subnet), gateway=str(subnet[1]))]),
                        labels=self._ownership.labels(spec),
                        check_duplicate=True,
                    )
                    log.info("network %s for tenant %s on %s", name, spec.slug, subnet)
                    return name
                except docker.errors.APIError as exc:
                    # Another creator took the subnet (or the name) between our look and our create.
                    if exc.status_code not in (400, 403, 409):
                        raise
                    refused.add(subnet)
        raise EngineError(f"could not find a free /{SUBNET_PREFIX} in {self._pool} for tenant {spec.slug}")

    def remove(self, tenant_id: str) -> None:
        for network in self._client.networks.list(names=[network_name(tenant_id)]):
            network.reload()
            if not self._ownership.ours(network.attrs.get("Labels") or {}):
                continue
            for container in network.containers:
                ignore_missing(partial(network.disconnect, container, force=True))
            ignore_missing(network.remove)

    def attach_routers(self) -> int:
        """Connect this instance's router(s) to every tenant network missing them; returns how many."""
        routers = self._client.containers.list(filters={"label": self._router_selector()})
        if not routers:
            return 0
        attached = 0
        networks = self._client.networks.list(filters={"label": self._ownership.selector()})
        for router in routers:
            # The router's own record lists its networks; a network's list entry omits members.
            joined = set((router.attrs.get("NetworkSettings") or {}).get("Networks") or {})
            for network in networks:
                if network.name in joined:
                    continue
                try:
                    network.connect(router)
                    attached += 1
                except docker.errors.APIError as exc:
                    if "already exists" not in str(exc.explanation or ""):
                        raise
        return attached

    def _router_selector(self) -> list[str]:
        instance = self._ownership.instance
        return [ROUTER_LABEL if instance is None else f"{ROUTER_LABEL}={instance}"]

    def _free_subnet(
        self, refused: set[ipaddress.IPv4Network | ipaddress.IPv6Network]
    ) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        used = [*self._used_subnets(), *refused]
        for candidate in self._pool.subnets(new_prefix=SUBNET_PREFIX):
            if not any(candidate.overlaps(taken) for taken in used):  # type: ignore[arg-type]
                return candidate
        raise EngineError(f"the tenant subnet pool {self._pool} is full")

    def _used_subnets(self) -> Iterator[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        for network in self._client.networks.list():
            for config in (network.attrs.get("IPAM") or {}).get("Config") or []:
                subnet = config.get("Subnet")
                if subnet:
                    try:
                        yield ipaddress.ip_network(subnet, strict=False)
                    except ValueError:
                        continue
