"""The edge's start gate: requests wait for the services while the tenant starts, never longer."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from cial_core.edge import EdgeResolver
from cial_core.readiness import Readiness
from cial_core.start_gate import StartGate
from cial_proxy import Unavailable


def listening_unix(path: Path) -> socket.socket:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()
    return server


class TestStartGate:
    async def test_holds_until_every_service_listens_then_stays_open(self, tmp_path: Path) -> None:
        back, front = tmp_path / "back.sock", tmp_path / "front.sock"
        gate = StartGate(Readiness({"back": str(back), "front": str(front)}), window=30)
        with listening_unix(back):
            assert await gate.passed(0.1) is False  # front does not listen yet
            assert gate.is_open is False
            waiting = asyncio.create_task(gate.passed(5))
            await asyncio.sleep(0.05)
            assert not waiting.done()
            with listening_unix(front):
                assert await waiting is True
        # Seen once is enough: a service that dies later takes the container down anyway.
        assert gate.is_open is True
        assert await gate.passed(0) is True

    async def test_opens_when_the_start_up_window_has_passed_with_a_service_missing(
        self, tmp_path: Path
    ) -> None:
        gate = StartGate(Readiness({"never": str(tmp_path / "never.sock")}), window=0.1)
        assert await gate.passed(5) is True
        assert gate.is_open is True


class TestEdgeResolver:
    async def test_a_request_held_too_long_is_told_to_come_back_and_then_served(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr("cial_core.edge.HOLD_SECONDS", 0.1)
        socket_path = tmp_path / "back.sock"
        resolver = EdgeResolver(StartGate(Readiness({"back": str(socket_path)}), window=30))
        with pytest.raises(Unavailable) as refused:
            await resolver.resolve("acme.localhost", "/")
        assert refused.value.status == 503
        assert refused.value.headers == {"Retry-After": "1"}
        assert "starting" in refused.value.message
        with listening_unix(socket_path):
            upstream = await EdgeResolver(
                StartGate(Readiness({"back": str(socket_path)}), window=30)
            ).resolve("acme.localhost", "/.cial/api/healthz")
        assert upstream.name == "core-back"

    async def test_without_a_gate_it_routes_at_once(self) -> None:
        assert (await EdgeResolver().resolve("acme.localhost", "/")).name == "platform-front"
