"""L3, part 1: the orchestrator's Docker driver against a real Docker engine and the real tenant
image (`cial-tenant:dev`, or $CIAL_TENANT_IMAGE).

Every resource these specs make is labelled `cial.instance=<this run>`, and the driver is scoped
to it: the reconciler's orphan sweep here can never touch another run's tenants, nor those of a
`make local-up` on the same engine. Fixtures remove everything with that label afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import docker
import docker.errors
import httpx
import pytest
from cial_app.orchestrator import (
    INSTANCE_LABEL,
    TENANT_LABEL,
    EngineUnavailable,
    ImageNotFound,
    Machine,
    MachineSpec,
    MachineState,
    MachineTemplate,
    NameConflict,
    NetworkNotFound,
    Orchestrator,
    PortConflict,
    get_orchestrator,
    health_url,
    wait_healthy,
)
from cial_app.orchestrator.base import DEFAULT_CPUS
from cial_app.orchestrator.docker import DockerOrchestrator
from cial_app.orchestrator.ownership import Ownership

from spec.containers import TENANT_IMAGE, spec_instance
from testkit.docker_sweep import containers_of, sweep, volumes_of
from testkit.polling import eventually_async

pytestmark = pytest.mark.docker

INSTANCE = spec_instance(f"l3-{uuid.uuid4().hex[:8]}")
HEALTH_DEADLINE = 30.0


# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(autouse=True)
def clean(engine: docker.DockerClient) -> Iterator[None]:
    yield
    sweep(INSTANCE, client=engine)


@pytest.fixture
async def driver(engine: docker.DockerClient) -> AsyncIterator[Orchestrator]:
    orchestrator = get_orchestrator("docker", instance=INSTANCE)
    try:
        yield orchestrator
    finally:
        await orchestrator.aclose()


@pytest.fixture
def template() -> MachineTemplate:
    return MachineTemplate(image=TENANT_IMAGE)


def new_tenant(template: MachineTemplate) -> MachineSpec:
    """A tenant of its own for each test: a UUID like the App's, and a unique slug."""
    return template.spec_for(str(uuid.uuid4()), f"l3-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def spec(template: MachineTemplate) -> MachineSpec:
    return new_tenant(template)


# ------------------------------------------------------------------------------------- helpers


def published_url(machine: Machine) -> str:
    assert machine.published is not None, f"{machine.slug} publishes no port ({machine.state})"
    return machine.published.url


async def healthy(machine: Machine, driver: Orchestrator) -> float:
    assert machine.published is not None, f"{machine.slug} publishes no port ({machine.state})"
    return await wait_healthy(
        machine, health_url(machine.published), deadline=HEALTH_DEADLINE, orchestrator=driver
    )


async def http(machine: Machine, method: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=published_url(machine), trust_env=False) as client:
        return await client.request(method, path, timeout=10)


async def running_and_healthy(driver: Orchestrator, spec: MachineSpec) -> Machine:
    machine = await driver.create(spec)
    await healthy(machine, driver)
    return machine


# --------------------------------------------------------------------------------------- specs


class TestCreate:
    async def test_a_created_tenant_runs_with_a_loopback_port_and_answers_healthz(
        self, driver: Orchestrator, spec: MachineSpec
    ) -> None:
        machine = await driver.create(spec)
        assert machine.state is MachineState.RUNNING
        assert machine.published_port is not None
        await healthy(machine, driver)
        health = await http(machine, "GET", "/.cial/api/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"

    async def test_the_tenant_page_names_the_tenant_by_its_slug(
        self, driver: Orchestrator, spec: MachineSpec
    ) -> None:
        machine = await running_and_healthy(driver, spec)

        async def page() -> httpx.Response | None:
            response = await http(machine, "GET", "/")
            return response if response.status_code == 200 else None

        # healthz is Core's answer; the page is Platform Front's, which may come up a moment later.
        assert (
            f"Tenant {spec.slug}" in (await eventually_async(page, timeout=30, what="the tenant page")).text
        )

    async def test_the_container_follows_the_fixed_recipe(
        self, driver: Orchestrator, spec: MachineSpec, engine: docker.DockerClient
    ) -> None:
        machine = await driver.create(spec)
        attrs = engine.containers.get(machine.id or "").attrs
        host = attrs["HostConfig"]
        # Another instance than the developer's `local` gets a suffix: names are global on an engine.
        assert attrs["Name"] == f"/{Ownership(INSTANCE).container_name(spec)}"
        assert attrs["Name"].startswith(f"/cial-tenant-{spec.slug}-")
        assert f"TENANT_ID={spec.tenant_id}" in attrs["Config"]["Env"]
        assert f"TENANT_SLUG={spec.slug}" in attrs["Config"]["Env"]
        assert attrs["Config"]["Labels"][TENANT_LABEL] == spec.tenant_id
        assert attrs["Config"]["Labels"]["cial.slug"] == spec.slug
        assert [
            (b["HostIp"], bool(b["HostPort"])) for b in attrs["NetworkSettings"]["Ports"]["8080/tcp"]
        ] == [("127.0.0.1", True)]
        assert host["RestartPolicy"]["Name"] == "unless-stopped"
        assert (
            host["Memory"] == 256 * 2**20
            and host["NanoCpus"] == int(DEFAULT_CPUS * 10**9)
            and host["PidsLimit"] == 256
        )
        assert "no-new-privileges:true" in host["SecurityOpt"]
        assert host["Privileged"] is False
        assert host["CapDrop"] == ["ALL"]
        assert sorted(host["CapAdd"]) == ["CAP_CHOWN", "CAP_KILL", "CAP_SETGID", "CAP_SETUID"] or sorted(
            host["CapAdd"]
        ) == ["CHOWN", "KILL", "SETGID", "SETUID"]
        assert host["ReadonlyRootfs"] is True
        assert host["Tmpfs"] == {
            "/tmp": "rw,nosuid,nodev,size=64m",
            "/run": "rw,nosuid,nodev,noexec,size=1m,mode=0755",
        }
        assert attrs["Image"] == engine.images.get(spec.image).id
        assert len(attrs["Config"]["Labels"]["cial.recipe"]) == 16
        mounts = attrs["Mounts"]
        assert [(m["Type"], m["Name"], m["Destination"]) for m in mounts] == [
            ("volume", f"cial-tenant-{spec.tenant_id}-data", "/var/lib/cial")
        ]
        assert not host.get("Binds") or all(not b.startswith("/") for b in host["Binds"])
        (volume,) = volumes_of(engine, spec.tenant_id)
        assert volume.name == f"cial-tenant-{spec.tenant_id}-data"

    async def test_creating_twice_leaves_one_container(
        self, driver: Orchestrator, spec: MachineSpec, engine: docker.DockerClient
    ) -> None:
        first = await driver.create(spec)
        second = await driver.create(spec)
        assert first.id == second.id
        assert len(containers_of(engine, spec.tenant_id)) == 1

    async def test_concurrent_creates_from_two_processes_leave_one_container(
        self, spec: MachineSpec, engine: docker.DockerClient
    ) -> None:
        # Two drivers stand for two App processes (an App restarted while the old one still ran).
        one, two = (get_orchestrator("docker", instance=INSTANCE) for _ in range(2))
        try:
            machines = await asyncio.gather(one.create(spec), two.create(spec))
        finally:
            await one.aclose()
            await two.aclose()
        assert machines[0].id == machines[1].id
        assert len(containers_of(engine, spec.tenant_id)) == 1

    async def test_a_container_left_created_by_a_crash_is_reused_and_started(
        self, driver: Orchestrator, spec: MachineSpec, engine: docker.DockerClient
    ) -> None:
        # The state an App crash between `docker create` and `docker start` leaves behind.
        assert isinstance(driver, DockerOrchestrator)
        await asyncio.to_thread(driver._ensure_volume, spec)
        options = driver._options(spec, str(engine.images.get(spec.image).id))
        half = await asyncio.to_thread(driver._create_container, spec, options)
        assert (await driver.status(spec.tenant_id)).state is MachineState.CREATED
        machine = await driver.create(spec)
        assert machine.id == half.id and machine.state is MachineState.RUNNING
        assert len(containers_of(engine, spec.tenant_id)) == 1

    async def test_a_duplicate_container_of_the_tenant_is_removed(
        self, driver: Orchestrator, spec: MachineSpec, engine: docker.DockerClient
    ) -> None:
        machine = await driver.create(spec)
        labels = {TENANT_LABEL: spec.tenant_id, INSTANCE_LABEL: INSTANCE}
        engine.containers.create(TENANT_IMAGE, name=f"{spec.machine_name}-dup", labels=labels)
        assert len(containers_of(engine, spec.tenant_id)) == 2
        again = await driver.create(spec)
        assert again.id == machine.id
        assert [c.id for c in containers_of(engine, spec.tenant_id)] == [machine.id]


class TestLifecycle:
    async def test_stop_and_start_keep_the_volumes_data(
        self, driver: Orchestrator, spec: MachineSpec
    ) -> None:
        machine = await running_and_healthy(driver, spec)
        for expected in (1, 2):
            counted = await http(machine, "POST", "/.cial/api/visits")
            assert counted.json()["visits"] == expected
        stopped = await driver.stop(spec.tenant_id)
        assert stopped.state is MachineState.STOPPED and stopped.published_port is None
        started = await driver.start(spec.tenant_id)
        assert started.state is MachineState.RUNNING and started.published_port is not None
        await healthy(started, driver)
        assert (await http(started, "GET", "/.cial/api/visits")).json()["visits"] == 2
        assert (await http(started, "POST", "/.cial/api/visits")).json()["visits"] == 3

    async def test_stop_and_start_are_idempotent(self, driver: Orchestrator, spec: MachineSpec) -> None:
        machine = await driver.create(spec)
        assert (await driver.start(spec.tenant_id)).id == machine.id
        await driver.stop(spec.tenant_id)
        assert (await driver.stop(spec.tenant_id)).state is MachineState.STOPPED

    async def test_restart_brings_the_tenant_back_on_a_new_port(
        self, driver: Orchestrator, spec: MachineSpec
    ) -> None:
        machine = await running_and_healthy(driver, spec)
        restarted = await driver.restart(spec.tenant_id)
        assert restarted.id == machine.id and restarted.state is MachineState.RUNNING
        await healthy(restarted, driver)

    async def test_destroy_removes_container_and_volume_and_can_be_repeated(
        self, driver: Orchestrator, spec: MachineSpec, engine: docker.DockerClient
    ) -> None:
        await driver.create(spec)
        await driver.destroy(spec.tenant_id)
        assert containers_of(engine, spec.tenant_id) == []
        assert volumes_of(engine, spec.tenant_id) == []
        assert (await driver.status(spec.tenant_id)).state is MachineState.ABSENT
        await driver.destroy(spec.tenant_id)

    async def test_the_logs_give_the_tenants_recent_lines(
        self, driver: Orchestrator, spec: MachineSpec
    ) -> None:
        await running_and_healthy(driver, spec)
        lines = await eventually_async(
            lambda: driver.logs(spec.tenant_id, tail=20), timeout=10, what="log lines"
        )
        assert 0 < len(lines) <= 20 and all(isinstance(line, str) for line in lines)

    async def test_status_of_an_unknown_tenant_is_absent(self, driver: Orchestrator) -> None:
        assert (await driver.status(str(uuid.uuid4()))).state is MachineState.ABSENT


class TestErrors:
    async def test_a_missing_image_is_image_not_found_and_leaves_nothing(
        self, driver: Orchestrator, template: MachineTemplate, engine: docker.DockerClient
    ) -> None:
        spec = new_tenant(MachineTemplate(image="cial-tenant:does-not-exist"))
        with pytest.raises(ImageNotFound) as raised:
            await driver.create(spec)
        assert "cial-tenant:does-not-exist" in raised.value.reason and "make images" in raised.value.reason
        assert containers_of(engine, spec.tenant_id) == [] and volumes_of(engine, spec.tenant_id) == []

    async def test_an_unreachable_engine_is_engine_unavailable_with_a_clear_reason(
        self, template: MachineTemplate
    ) -> None:
        driver = get_orchestrator("docker", base_url="unix:///nonexistent.sock")
        with pytest.raises(EngineUnavailable) as raised:
            await driver.create(new_tenant(template))
        assert "unix:///nonexistent.sock" in raised.value.reason
        assert "is Docker running?" in raised.value.reason

    async def test_a_taken_host_port_is_a_port_conflict_naming_the_port(
        self, driver: Orchestrator, template: MachineTemplate
    ) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            spec = template.spec_for(str(uuid.uuid4()), f"l3-{uuid.uuid4().hex[:8]}")
            pinned = replace(spec, published_port=port)
            with pytest.raises(PortConflict, match=f"127.0.0.1:{port} is already in use"):
                await driver.create(pinned)

    async def test_a_missing_network_is_network_not_found(
        self, driver: Orchestrator, template: MachineTemplate
    ) -> None:
        spec = new_tenant(MachineTemplate(image=TENANT_IMAGE, network=f"{INSTANCE}-missing"))
        with pytest.raises(NetworkNotFound, match="CIAL_DOCKER_NETWORK"):
            await driver.create(spec)

    async def test_a_container_not_made_by_cial_is_never_taken_over(
        self, driver: Orchestrator, spec: MachineSpec, engine: docker.DockerClient
    ) -> None:
        stranger = engine.containers.create(
            TENANT_IMAGE, name=Ownership(INSTANCE).container_name(spec), labels={INSTANCE_LABEL: INSTANCE}
        )
        with pytest.raises(NameConflict, match="something other than Cial"):
            await driver.create(spec)
        stranger.reload()
        assert stranger.status == "created"


class TestNetwork:
    async def test_on_a_shared_network_the_tenant_is_reached_by_its_name(
        self, driver: Orchestrator, engine: docker.DockerClient
    ) -> None:
        network = engine.networks.create(f"{INSTANCE}-net", labels={INSTANCE_LABEL: INSTANCE})
        spec = new_tenant(MachineTemplate(image=TENANT_IMAGE, network=network.name))
        machine = await driver.create(spec)
        assert machine.upstream is not None
        assert machine.upstream.url == f"http://{Ownership(INSTANCE).container_name(spec)}:8080"
        await healthy(machine, driver)
        # A neighbour on the network (as the router and the App are in compose) asks by name.
        url = f"{machine.upstream.url}/.cial/api/healthz"
        probe = f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=5).status)"
        output = engine.containers.run(
            TENANT_IMAGE,
            ["python3", "-c", probe],
            entrypoint=[],
            network=network.name,
            labels={INSTANCE_LABEL: INSTANCE},
            remove=True,
        )
        assert output.strip() == b"200"

    async def test_tenants_created_at_once_each_get_a_network_and_subnet_of_their_own(
        self, engine: docker.DockerClient, template: MachineTemplate
    ) -> None:
        # A network being created holds its subnet before it is listed: concurrent creates once
        # all picked the same /29 and most ended in error (seen in bench/density.py).
        driver = get_orchestrator("docker", instance=INSTANCE, subnet_pool="10.214.0.0/24")
        try:
            specs = [new_tenant(template) for _ in range(6)]
            machines = await asyncio.gather(*(driver.create(spec) for spec in specs))
        finally:
            await driver.aclose()
        assert all(machine.state.is_up for machine in machines)
        networks = engine.networks.list(filters={"label": f"{INSTANCE_LABEL}={INSTANCE}"})
        subnets = [n.attrs["IPAM"]["Config"][0]["Subnet"] for n in networks]
        assert len(networks) == 6 and len(set(subnets)) == 6, subnets


# The capability bits of Linux (capability.h) the recipe leaves the supervisor.
_CAPABILITY_BITS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "KILL": 5, "SETGID": 6, "SETUID": 7}


def capabilities(status: str) -> set[str]:
    """The effective capabilities named in a /proc/<pid>/status text, among those above."""
    line = next(line for line in status.splitlines() if line.startswith("CapEff:"))
    bits = int(line.split()[1], 16)
    unknown = bits & ~sum(1 << bit for bit in _CAPABILITY_BITS.values())
    assert unknown == 0, f"capabilities beyond the recipe's: {unknown:#x}"
    return {name for name, bit in _CAPABILITY_BITS.items() if bits & (1 << bit)}


class TestHardenedRecipe:
    """What a process in a tenant can do to the machine it runs on, tried as it would be tried."""

    async def test_nothing_of_the_image_is_writable_and_scratch_space_is_bounded(
        self, driver: Orchestrator, spec: MachineSpec, engine: docker.DockerClient
    ) -> None:
        machine = await running_and_healthy(driver, spec)
        container = engine.containers.get(machine.id or "")
        for user, target in (
            ("agent", "/opt/cial-platform/cial_platform/x.py"),
            ("agent", "/x"),
            ("root", "/x"),
        ):
            code, output = container.exec_run(["sh", "-c", f"echo x > {target}"], user=user)
            assert code != 0 and b"Read-only file system" in output, (user, target, output)
        # /tmp takes writes, up to its size: a tenant cannot fill the host's disk through it.
        code, output = container.exec_run(
            ["sh", "-c", "head -c 80M /dev/zero > /tmp/big; echo $?; rm -f /tmp/big"], user="agent"
        )
        assert b"No space left on device" in output
        code, _ = container.exec_run(["sh", "-c", "echo x > /tmp/small"], user="agent")
        assert code == 0

    async def test_root_holds_only_the_supervisors_four_capabilities_and_agent_none(
        self, driver: Orchestrator, spec: MachineSpec, engine: docker.DockerClient
    ) -> None:
        machine = await running_and_healthy(driver, spec)
        container = engine.containers.get(machine.id or "")
        _, supervisor = container.exec_run(["cat", "/proc/1/status"])
        assert isinstance(supervisor, bytes)
        # PID 1 is tini; the supervisor is its child and has the same set.
        assert capabilities(supervisor.decode()) == {"CHOWN", "KILL", "SETGID", "SETUID"}
        _, agents = container.exec_run(
            ["sh", "-c", "grep -l '^Uid:[[:space:]]*1001' /proc/[0-9]*/status | xargs cat"]
        )
        assert isinstance(agents, bytes)
        statuses = agents.decode().split("Name:")[1:]
        assert statuses and all(capabilities("Name:" + s) == set() for s in statuses)
        # Without DAC_OVERRIDE, root in the tenant cannot read into what another user closed.
        code, output = container.exec_run(["ls", "/var/lib/cial"], user="root")
        assert code != 0 and b"Permission denied" in output

    async def test_a_rebuilt_image_reaches_the_tenant_at_its_next_start_with_its_data(
        self, driver: Orchestrator, engine: docker.DockerClient
    ) -> None:
        tag = f"cial-tenant:spec-roll-{uuid.uuid4().hex[:8]}"

        def build(generation: int) -> str:
            # A build the engine does offline: the same image under one more label.
            dockerfile = f"FROM {TENANT_IMAGE}\nLABEL cial.spec.generation={generation}\n".encode()
            image, _ = engine.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, rm=True)
            return str(image.id)

        try:
            first = build(1)
            spec = new_tenant(MachineTemplate(image=tag))
            machine = await running_and_healthy(driver, spec)
            assert engine.containers.get(machine.id or "").attrs["Image"] == first
            assert (await http(machine, "POST", "/.cial/api/visits")).json()["visits"] == 1
            second = build(2)
            # Running, it keeps its image until it next starts (the App's restart: stop, create).
            assert (await driver.status(spec.tenant_id)).id == machine.id
            await driver.stop(spec.tenant_id)
            rolled = await running_and_healthy(driver, spec)
            assert rolled.id != machine.id
            assert engine.containers.get(rolled.id or "").attrs["Image"] == second
            assert (await http(rolled, "POST", "/.cial/api/visits")).json()["visits"] == 2
            assert len(containers_of(engine, spec.tenant_id)) == 1
        finally:
            sweep(INSTANCE, client=engine)
            with contextlib.suppress(docker.errors.ImageNotFound):
                engine.images.remove(tag, force=True)
