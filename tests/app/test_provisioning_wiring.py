"""How the App's settings become its provisioning runtime: which driver, the machine recipe, and
where the health check goes (the published port, or the name on the shared network)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest
from cial_app.orchestrator import Endpoint, HealthTimeout, Machine, MachineState, NoAddress
from cial_app.provisioning.wiring import build_orchestrator, health_probe, machine_template
from cial_app.settings import HealthVia, Settings

from testkit.ports import closed_port

from .fakes import FakeEngine


@pytest.fixture
async def healthz() -> AsyncIterator[int]:
    """A stand-in tenant edge on 127.0.0.1 that answers its health check over real HTTP."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        ok = request.startswith(b"GET /.cial/api/healthz ")
        status = b"200 OK" if ok else b"404 Not Found"
        writer.write(b"HTTP/1.1 " + status + b"\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


class TestDriverAndRecipe:
    def test_the_driver_is_the_one_the_settings_name(self) -> None:
        assert build_orchestrator(Settings(orchestrator="memory")).driver == "memory"
        # Built without contacting Docker: an App started while Docker is down still starts.
        assert build_orchestrator(Settings(orchestrator="docker", instance="spec-x")).driver == "docker"

    def test_the_recipe_comes_from_the_settings(self) -> None:
        template = machine_template(
            Settings(
                tenant_image="cial-tenant:v9",
                tenant_memory_bytes=300 * 2**20,
                tenant_cpus=0.5,
                tenant_pids_limit=99,
                docker_network="cial-net",
            )
        )
        spec = template.spec_for("0b7c", "acme")
        assert (spec.image, spec.memory_bytes, spec.cpus, spec.pids_limit, spec.network) == (
            "cial-tenant:v9",
            300 * 2**20,
            0.5,
            99,
            "cial-net",
        )


class TestHealthAddress:
    async def test_published_checks_the_port_on_127_0_0_1(self, healthz: int) -> None:
        probe = health_probe(Settings(health_via=HealthVia.PUBLISHED), FakeEngine())
        machine = Machine(tenant_id="t", slug="acme", state=MachineState.RUNNING, published_port=healthz)
        assert await probe(machine) >= 0

    async def test_upstream_checks_the_machine_where_the_router_will_dial_it(self, healthz: int) -> None:
        settings = Settings(health_via=HealthVia.UPSTREAM, docker_network="cial-net")
        probe = health_probe(settings, FakeEngine())
        # In compose the name resolves on the network; here 127.0.0.1 stands in for it.
        machine = Machine(
            tenant_id="t", slug="acme", state=MachineState.RUNNING, upstream=Endpoint("127.0.0.1", healthz)
        )
        assert await probe(machine) >= 0

    async def test_a_machine_without_the_address_asked_for_is_refused_with_why(self) -> None:
        probe = health_probe(Settings(health_via=HealthVia.PUBLISHED), FakeEngine())
        machine = Machine(tenant_id="t", slug="acme", state=MachineState.RUNNING)
        with pytest.raises(NoAddress, match="no published address"):
            await probe(machine)

    async def test_a_port_that_does_not_answer_fails_at_the_deadline_with_what_it_saw(self) -> None:
        engine = FakeEngine()
        made = await engine.create(machine_template(Settings()).spec_for("t", "acme"))
        probe = health_probe(Settings(health_deadline_seconds=1.0), engine)
        with closed_port() as port:
            machine = dataclasses.replace(made, published_port=port)
            with pytest.raises(HealthTimeout, match="connection refused"):
                await probe(machine)
