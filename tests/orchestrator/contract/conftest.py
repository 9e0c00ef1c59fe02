"""One contract, every driver: the memory driver, the Docker driver on the real engine with the
real tenant image, and the Fly driver on the fake Machines API (testkit/fly_fake.py).

A test here that passes for one driver and fails for another is a bug in that driver: fix it,
never the contract. Docker is skipped only when the engine or `cial-tenant:dev` is missing, and
says which.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from cial_app.orchestrator import MachineSpec, MachineTemplate, Orchestrator
from cial_app.orchestrator.memory import MemoryOrchestrator

from testkit.fly_fake import FlyFake, fly_driver, unleased_mutations

TENANT_IMAGE = os.environ.get("CIAL_TENANT_IMAGE", "cial-tenant:dev")
INSTANCE = f"contract-{uuid.uuid4().hex[:8]}"


def _docker_or_skip() -> None:
    try:
        import docker

        client = docker.from_env()
    except Exception as exc:
        pytest.skip(f"no Docker engine for the docker leg of the contract ({exc})")
    try:
        client.images.get(TENANT_IMAGE)
    except Exception:
        pytest.skip(f"the docker leg needs the image {TENANT_IMAGE} (make tenant-image builds it)")
    finally:
        client.close()


@pytest.fixture(params=["memory", "docker", "fly"])
async def driver(request: pytest.FixtureRequest) -> AsyncIterator[Orchestrator]:
    name: str = request.param
    if name == "memory":
        yield MemoryOrchestrator(images=(TENANT_IMAGE,))
    elif name == "docker":
        _docker_or_skip()
        from cial_app.orchestrator.docker import DockerOrchestrator

        from testkit.docker_sweep import sweep

        engine = DockerOrchestrator(instance=INSTANCE)
        try:
            yield engine
        finally:
            await engine.aclose()
            sweep(INSTANCE)
    else:
        fake = FlyFake()
        fly = fly_driver(fake, instance=INSTANCE)
        try:
            yield fly
        finally:
            await fly.aclose()
        # Fly's rules, checked after every contract test on the fake: never over the rate limit,
        # never a change to a machine without its lease.
        assert fake.rate_limited == 0, f"{fake.rate_limited} requests went over Fly's rate limits"
        assert unleased_mutations(fake) == []


NewSpec = Callable[[], MachineSpec]


@pytest.fixture
def new_spec() -> NewSpec:
    """A tenant of its own per call: a UUID like the App's, a unique slug."""
    template = MachineTemplate(image=TENANT_IMAGE)

    def make() -> MachineSpec:
        return template.spec_for(str(uuid.uuid4()), f"ct-{uuid.uuid4().hex[:8]}")

    return make


@pytest.fixture
def spec(new_spec: NewSpec) -> MachineSpec:
    return new_spec()
