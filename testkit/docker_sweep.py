"""Remove what one run made on the Docker engine, by its `cial.instance` label."""

from __future__ import annotations

import contextlib
from typing import Any

import docker
import docker.errors

TENANT_LABEL = "cial.tenant"
INSTANCE_LABEL = "cial.instance"


def _ours(labels: dict[str, str] | None, instance: str, prefix: bool) -> bool:
    value = (labels or {}).get(INSTANCE_LABEL)
    if value is None:
        return False
    return value.startswith(instance) if prefix else value == instance


def sweep(instance: str, *, prefix: bool = False, client: docker.DockerClient | None = None) -> int:
    """Remove the containers (with their anonymous volumes), volumes and networks labelled
    `cial.instance=<instance>` (every `cial.instance` starting with it, if `prefix`).

    Tenants carry `cial.tenant` and their App's `cial.instance`; what a spec makes by hand carries
    its run's instance too, so one call leaves nothing of the run behind. Instances of other runs,
    and a `make local-up` App's own ("local"), are never touched. Returns how many were removed.
    """
    if not instance:
        raise ValueError("sweep needs an instance (an empty prefix would match every App's tenants)")
    engine = client or docker.from_env()
    removed = 0
    try:
        selector: dict[str, str | list[str] | bool] = {"label": INSTANCE_LABEL}
        for container in engine.containers.list(all=True, filters=selector):
            if _ours(container.labels, instance, prefix):
                with contextlib.suppress(docker.errors.NotFound):
                    container.remove(force=True, v=True)
                    removed += 1
        for volume in engine.volumes.list(filters=selector):
            if _ours(volume.attrs.get("Labels"), instance, prefix):
                with contextlib.suppress(docker.errors.NotFound):
                    volume.remove(force=True)
                    removed += 1
        for network in engine.networks.list(filters=selector):
            if _ours(network.attrs.get("Labels"), instance, prefix):
                with contextlib.suppress(docker.errors.NotFound):
                    network.remove()
                    removed += 1
    finally:
        if client is None:
            engine.close()
    return removed


def containers_of(engine: docker.DockerClient, tenant_id: str) -> list[Any]:
    """Every container (running or not) labelled as tenant `tenant_id`'s."""
    return engine.containers.list(all=True, filters={"label": f"{TENANT_LABEL}={tenant_id}"})


def volumes_of(engine: docker.DockerClient, tenant_id: str) -> list[Any]:
    """Every volume labelled as tenant `tenant_id`'s."""
    return engine.volumes.list(filters={"label": f"{TENANT_LABEL}={tenant_id}"})
