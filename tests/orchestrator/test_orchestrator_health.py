"""Waiting for a tenant's health endpoint, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from cial_app.orchestrator import (
    Endpoint,
    HealthTimeout,
    Machine,
    MachineCrashed,
    MachineSpec,
    MachineState,
    health_url,
    wait_healthy,
)
from cial_app.orchestrator.memory import MemoryOrchestrator

from testkit.ports import closed_port


class HealthServer:
    """A tiny HTTP/1.1 server whose answer to the health path the test controls."""

    def __init__(self, status: Callable[[], int]) -> None:
        self.status = status
        self.port = 0
        self.hits = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        self.hits += 1
        code = self.status() if b"/.cial/api/healthz" in request.split(b"\r\n")[0] else 404
        writer.write(f"HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()


Serve = Callable[[Callable[[], int]], Awaitable[HealthServer]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[asyncio.Server] = []

    async def start(status: Callable[[], int]) -> HealthServer:
        health = HealthServer(status)
        server = await asyncio.start_server(health.handle, "127.0.0.1", 0)
        servers.append(server)
        health.port = server.sockets[0].getsockname()[1]
        return health

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def running(port: int) -> Machine:
    return Machine(tenant_id="1", slug="acme", state=MachineState.RUNNING, published_port=port)


def at(port: int) -> str:
    return health_url(Endpoint("127.0.0.1", port))


class TestWaitHealthy:
    async def test_returns_once_the_endpoint_answers_200(self, serve: Serve) -> None:
        server = await serve(lambda: 200)
        elapsed = await wait_healthy(running(server.port), at(server.port), deadline=5)
        assert elapsed < 5 and server.hits == 1

    async def test_keeps_polling_through_errors_until_200(self, serve: Serve) -> None:
        answers = iter([503, 502, 200])
        server = await serve(lambda: next(answers))
        await wait_healthy(running(server.port), at(server.port), deadline=5, interval=0.01)
        assert server.hits == 3

    async def test_a_deadline_passed_names_the_last_answer(self, serve: Serve) -> None:
        server = await serve(lambda: 503)
        with pytest.raises(HealthTimeout, match=r"acme did not answer .*healthz.* within 0.3 s.*HTTP 503"):
            await wait_healthy(running(server.port), at(server.port), deadline=0.3, interval=0.01)

    async def test_nothing_listening_is_reported_as_refused(self) -> None:
        with closed_port() as port, pytest.raises(HealthTimeout, match="connection refused") as raised:
            await wait_healthy(running(port), at(port), deadline=0.3, interval=0.01)
        assert raised.value.code == "health_timeout"


class TestWatchingTheMachine:
    async def test_a_machine_that_dies_while_starting_fails_before_the_deadline(self) -> None:
        engine = MemoryOrchestrator()
        machine = await engine.create(MachineSpec(tenant_id="1", slug="acme", image="cial-tenant:dev"))
        engine.kill("1", exit_code=3)
        crashed = pytest.raises(MachineCrashed, match=r"acme's container is exited \(exit code 3\)")
        with closed_port() as port, crashed:
            await wait_healthy(
                machine,
                at(port),
                deadline=30,
                orchestrator=engine,
                interval=0.05,
            )
