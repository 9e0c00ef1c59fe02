"""WebSocket sessions through the proxy, against a real upstream server."""

from __future__ import annotations

import asyncio
import logging

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from .conftest import DEADLINE, Stack


class TestSessions:
    async def test_text_and_binary_frames_echo_through(self, proxied: Stack) -> None:
        async with connect(f"{proxied.ws_url}/ws") as ws, asyncio.timeout(DEADLINE):
            await ws.send("hello")
            assert await ws.recv() == "hello"
            await ws.send(b"\x00\x01\xff")
            assert await ws.recv() == b"\x00\x01\xff"

    async def test_the_upstream_gets_the_requested_path_and_query(self, proxied: Stack) -> None:
        async with connect(f"{proxied.ws_url}/renamed/ws?room=7"):
            pass
        (scope,) = proxied.platform.ws_seen
        assert (scope["path"], scope["query_string"]) == ("/ws", b"room=7")

    async def test_the_subprotocol_the_upstream_picks_is_the_one_the_client_gets(
        self, proxied: Stack
    ) -> None:
        offered = [Subprotocol("v2.chat"), Subprotocol("v1.chat")]
        async with connect(f"{proxied.ws_url}/ws", subprotocols=offered) as ws:
            assert ws.subprotocol == "v1.chat"
        assert proxied.platform.ws_seen[0]["subprotocols"] == ["v2.chat", "v1.chat"]

    async def test_cookies_and_forwarding_headers_reach_the_upstream_but_not_the_handshakes_own(
        self, proxied: Stack
    ) -> None:
        async with connect(
            f"{proxied.ws_url}/ws",
            additional_headers={"Cookie": "session=s1", "X-Forwarded-For": "203.0.113.7"},
        ):
            pass
        headers: dict[bytes, list[bytes]] = {}
        for name, value in proxied.platform.ws_seen[0]["headers"]:
            headers.setdefault(name, []).append(value)
        assert headers[b"cookie"] == [b"session=s1"]
        assert headers[b"x-forwarded-for"] == [b"127.0.0.1"]  # the client\'s claim is replaced
        assert headers[b"x-forwarded-host"] == [f"127.0.0.1:{proxied.port}".encode()]
        assert headers[b"x-forwarded-proto"] == [b"http"]
        assert len(headers[b"sec-websocket-key"]) == 1  # the proxy's own handshake, not the client's too
        assert len(headers[b"host"]) == 1


class TestClosing:
    async def test_the_upstreams_close_code_and_reason_reach_the_client(self, proxied: Stack) -> None:
        async with connect(f"{proxied.ws_url}/ws") as ws, asyncio.timeout(DEADLINE):
            await ws.send("close-me")
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "bye")

    async def test_the_clients_close_code_reaches_the_upstream(self, proxied: Stack) -> None:
        proxied.platform.ws_close_code = asyncio.get_running_loop().create_future()
        async with connect(f"{proxied.ws_url}/ws") as ws, asyncio.timeout(DEADLINE):
            await ws.send("ping")
            await ws.recv()
            await ws.close(code=4002, reason="done")
            assert await proxied.platform.ws_close_code == 4002


class TestRefusals:
    @pytest.mark.parametrize(
        ("path", "status", "message"),
        [
            ("/missing/ws", 404, "nothing serves /missing"),
            ("/asleep/ws", 503, "acme is not running"),
            ("/down/ws", 502, "core-back is not answering"),
            ("/refuse", 403, "upstream says no"),
        ],
    )
    async def test_a_refused_handshake_gets_the_status_and_the_reason(
        self, proxied: Stack, path: str, status: int, message: str
    ) -> None:
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"{proxied.ws_url}{path}")
        assert refused.value.response.status_code == status
        assert refused.value.response.body.decode().strip() == message

    @pytest.mark.parametrize("path", ["/missing/ws", "/asleep/ws", "/down/ws"])
    async def test_a_refusal_by_the_proxy_logs_no_error(
        self, proxied: Stack, logs: pytest.LogCaptureFixture, path: str
    ) -> None:
        with pytest.raises(InvalidStatus):
            await connect(f"{proxied.ws_url}{path}")
        # Server and client share the loop: the proxy finished (and logged) before the client read.
        assert any(record.name == "cial_proxy" for record in logs.records)
        assert [record.getMessage() for record in logs.records if record.levelno >= logging.ERROR] == []
