"""The engine's own contracts: pooling, request framing, timeouts, caps, refusals, observer."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field

import httpx
import pytest
from cial_proxy import Upstream, create_proxy
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .conftest import DEADLINE, Stack, raw_exchange, stack_of

FIXED = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


@dataclass
class RawUpstream:
    """A tiny keep-alive upstream on asyncio that counts the connections it accepts."""

    answer: bytes = FIXED
    accepted: int = 0
    port: int = 0

    def protocol(self) -> asyncio.Protocol:
        upstream = self

        class Fixed(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                upstream.accepted += 1
                self.transport = transport

            def data_received(self, data: bytes) -> None:
                assert isinstance(self.transport, asyncio.Transport)
                self.transport.write(upstream.answer * data.count(b"\r\n\r\n"))

        return Fixed()


@dataclass
class To:
    port: int
    name: str = "raw"

    async def resolve(self, host: str, path: str) -> Upstream:
        return Upstream(self.name, "127.0.0.1", self.port, path)


async def raw_upstream(answer: bytes = FIXED) -> tuple[RawUpstream, asyncio.Server]:
    upstream = RawUpstream(answer)
    server = await asyncio.get_running_loop().create_server(upstream.protocol, "127.0.0.1", 0)
    upstream.port = server.sockets[0].getsockname()[1]
    return upstream, server


class TestPooling:
    async def test_200_requests_over_32_connections_use_at_most_32_upstream_connections(self) -> None:
        upstream, server = await raw_upstream()
        proxy = create_proxy(To(upstream.port), name="router")
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        async with (
            server,
            proxy.running() as port,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=DEADLINE) as client,
        ):
            responses = await asyncio.gather(*(client.get(f"/{n}") for n in range(200)))
        assert [response.status_code for response in responses] == [200] * 200
        # A per-request client would open 200; an unbounded or non-reusing pool more than 32.
        assert 1 <= upstream.accepted <= 32
        assert proxy.upstream_connections_opened == upstream.accepted


class TestListening:
    async def test_a_proxy_serves_on_a_socket_bound_by_someone_else(self) -> None:
        upstream, server = await raw_upstream()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        proxy = create_proxy(To(upstream.port))
        async with server, proxy.running(sock=listener) as port, httpx.AsyncClient() as client:
            assert port == listener.getsockname()[1]
            response = await client.get(f"http://127.0.0.1:{port}/")
        assert response.text == "ok"


class TestRequestFraming:
    async def test_content_length_with_transfer_encoding_gets_400(self, proxied: Stack) -> None:
        head, _ = await raw_exchange(
            proxied.port,
            b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n0\r\n\r\n",
        )
        assert head.startswith(b"HTTP/1.1 400")
        assert proxied.resolver.asked == []

    async def test_a_malformed_request_gets_400(self, proxied: Stack) -> None:
        head, _ = await raw_exchange(proxied.port, b"GET / HTTP/1.1\r\nHost a\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400")

    async def test_a_request_head_over_64_kib_gets_400(self, proxied: Stack) -> None:
        huge = b"X-Filler: " + b"f" * 70_000 + b"\r\n"
        head, _ = await raw_exchange(proxied.port, b"GET /echo HTTP/1.1\r\nHost: a\r\n" + huge + b"\r\n")
        assert head.startswith(b"HTTP/1.1 400")
        assert proxied.resolver.asked == []

    async def test_a_chunked_upload_arrives_whole(self, proxied: Stack) -> None:
        head, body = await raw_exchange(
            proxied.port,
            b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        assert head.startswith(b"HTTP/1.1 200")
        assert b'"size": 5' in body  # the answer itself comes chunked

    async def test_a_client_that_sends_half_a_head_is_dropped_within_the_header_timeout(self) -> None:
        async with stack_of(header_timeout=0.3) as stack:
            reader, writer = await asyncio.open_connection("127.0.0.1", stack.port)
            writer.write(b"GET /echo HTTP/1.1\r\nHost: a\r\n")
            async with asyncio.timeout(2):
                assert await reader.read() == b""
            writer.close()


class TestCookiesAndRefusals:
    async def test_the_named_cookies_are_stripped_and_the_others_kept(self) -> None:
        async with stack_of(strip_cookies=["cial_session"]) as stack:
            both = await stack.client.get("/echo", headers={"Cookie": "cial_session=s3cr3t; theme=dark"})
            only = await stack.client.get("/echo", headers={"Cookie": "cial_session=s3cr3t"})
        assert [v for k, v in both.json()["headers"] if k == "cookie"] == ["theme=dark"]
        assert [k for k, _ in only.json()["headers"] if k == "cookie"] == []

    async def test_a_client_that_prefers_json_gets_a_json_refusal(self, proxied: Stack) -> None:
        response = await proxied.client.get("/missing", headers={"Accept": "application/json"})
        assert response.status_code == 404
        assert response.json() == {"error": "nothing serves /missing", "status": 404}

    async def test_a_browser_gets_a_small_html_page_with_retry_after(self, proxied: Stack) -> None:
        browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        response = await proxied.client.get("/asleep", headers={"Accept": browser})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert "<h1>503 Service Unavailable</h1><p>acme is not running</p>" in response.text

    async def test_an_upstream_that_does_not_speak_http_gets_502(self) -> None:
        upstream, server = await raw_upstream(b"NOT HTTP AT ALL\r\n\r\n")
        proxy = create_proxy(To(upstream.port, "garbled"), name="edge")
        async with server, proxy.running() as port, httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/")
        assert response.status_code == 502
        assert response.text == "garbled is not answering\n"

    async def test_connections_beyond_the_cap_get_503(self) -> None:
        async with stack_of(max_connections=1) as stack:
            _, first = await asyncio.open_connection("127.0.0.1", stack.port)
            head, _ = await raw_exchange(stack.port, b"GET /echo HTTP/1.1\r\nHost: a\r\n\r\n")
            first.close()
        assert head.startswith(b"HTTP/1.1 503")


class TestLongLived:
    async def test_the_idle_timeout_cuts_neither_a_quiet_websocket_nor_a_slow_stream(self) -> None:
        async with stack_of(idle_timeout=0.2) as stack:
            async with connect(f"{stack.ws_url}/ws") as ws:
                await asyncio.sleep(0.6)
                await ws.send("still here")
                assert await ws.recv() == "still here"
            async with stack.client.stream("GET", "/stream") as response:
                chunks = response.aiter_raw()
                assert await anext(chunks) == b"first"
                await asyncio.sleep(0.6)
                stack.platform.release.set()
                assert b"".join([chunk async for chunk in chunks]) == b"second"


class TestWebSocketMessageCap:
    @pytest.mark.parametrize("message", [b"x" * 2000, ["a" * 600, "b" * 600]], ids=["one frame", "fragments"])
    async def test_a_message_over_the_cap_is_closed_with_1009(self, message: bytes | list[str]) -> None:
        async with stack_of(max_message_size=1024) as stack, connect(f"{stack.ws_url}/ws") as ws:
            await ws.send("small")
            assert await ws.recv() == "small"
            await ws.send(message)
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(DEADLINE):
                    await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


@dataclass
class Recorder:
    calls: list[tuple[object, ...]] = field(default_factory=list)

    def request_started(self, upstream: str, method: str) -> None:
        self.calls.append(("started", upstream, method))

    def request_finished(self, upstream: str, method: str, status: int, seconds: float) -> None:
        self.calls.append(("finished", upstream, method, status))

    def websocket_opened(self, upstream: str) -> None:
        self.calls.append(("ws-open", upstream))

    def websocket_closed(self, upstream: str, seconds: float) -> None:
        self.calls.append(("ws-closed", upstream))


class TestObserver:
    async def test_the_observer_sees_requests_refusals_and_websockets(self) -> None:
        recorder = Recorder()
        async with stack_of(observer=recorder) as stack:
            await stack.client.get("/echo")
            await stack.client.get("/missing")
            async with connect(f"{stack.ws_url}/ws") as ws:
                await ws.send("hi")
                await ws.recv()
            await _until(lambda: len(recorder.calls) == 7)
        assert recorder.calls == [
            ("started", "platform-front", "GET"),
            ("finished", "platform-front", "GET", 200),
            ("finished", "-", "GET", 404),
            ("started", "platform-front", "GET"),
            ("ws-open", "platform-front"),
            ("ws-closed", "platform-front"),
            ("finished", "platform-front", "WEBSOCKET", 101),
        ]


async def _until(condition: object) -> None:
    assert callable(condition)
    async with asyncio.timeout(DEADLINE):
        while not condition():  # noqa: ASYNC110 (the observer is a plain callback, no event to wait on)
            await asyncio.sleep(0.01)


class TestHttpDetails:
    async def test_expect_100_continue_is_answered_by_the_proxy_and_the_body_flows(
        self, proxied: Stack
    ) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxied.port)
        writer.write(
            b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n"
            b"Connection: close\r\n\r\n"
        )
        async with asyncio.timeout(DEADLINE):
            interim = await reader.readuntil(b"\r\n\r\n")
            writer.write(b"hello")
            rest = await reader.read()
        writer.close()
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        assert rest.startswith(b"HTTP/1.1 200") and b'"size": 5' in rest

    async def test_pipelined_requests_are_answered_in_order(self, proxied: Stack) -> None:
        head, body = await raw_exchange(
            proxied.port,
            b"GET /status/201 HTTP/1.1\r\nHost: a\r\n\r\nGET /status/202 HTTP/1.1\r\nHost: a\r\n"
            b"Connection: close\r\n\r\n",
        )
        assert head.startswith(b"HTTP/1.1 201")
        assert b"HTTP/1.1 202" in body

    async def test_an_http_1_0_client_gets_a_body_delimited_by_close(self, proxied: Stack) -> None:
        proxied.platform.release.set()  # the upstream sends both chunks at once
        head, body = await raw_exchange(proxied.port, b"GET /stream HTTP/1.0\r\nHost: a\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert b"transfer-encoding" not in head.lower()
        assert body == b"firstsecond"

    async def test_no_content_and_not_modified_have_no_body(self, proxied: Stack) -> None:
        for status in (204, 304):
            response = await proxied.client.get(f"/status/{status}")
            assert (response.status_code, response.content) == (status, b"")


class TestWebSocketDetails:
    async def test_a_message_from_the_upstream_over_the_cap_closes_the_client_with_1009(self) -> None:
        async with stack_of(max_message_size=1024) as stack, connect(f"{stack.ws_url}/ws") as ws:
            await ws.send("big:1000")
            assert await ws.recv() == "x" * 1000
            await ws.send("big:5000")
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(DEADLINE):
                    await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009

    async def test_a_websocket_to_an_upstream_that_is_down_gets_502(self, proxied: Stack) -> None:
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"{proxied.ws_url}/down/ws")
        assert refused.value.response.status_code == 502


class TestResolverFailure:
    async def test_a_resolver_that_raises_gets_503_and_the_proxy_carries_on(self) -> None:
        class Broken:
            calls = 0

            async def resolve(self, host: str, path: str) -> Upstream:
                Broken.calls += 1
                raise ConnectionError("database unreachable")

        proxy = create_proxy(Broken(), name="router")
        async with proxy.running() as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            first = await client.get("/", headers={"Accept": "application/json"})
            second = await client.get("/")
        assert first.status_code == second.status_code == 503
        assert first.json() == {"error": "this request cannot be routed right now", "status": 503}
        assert Broken.calls == 2
