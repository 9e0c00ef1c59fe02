"""A WebSocket's liveness through the proxy: pings to a quiet client, 1001 to one that is gone,
never a frame of the proxy's own inside one of the upstream's, and closing one tenant's tunnels."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from cial_proxy import Proxy, Upstream, create_proxy
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from .conftest import DEADLINE, pattern, stack_of
from .test_meter import frame, masked_frame

INTERVAL = 0.2
TIMEOUT = 0.3
TICK = 0.05  # the sweep's: a quarter of the shortest of the two
CLOSE_GOING_AWAY = b"\x88\x02\x03\xe9"
HANDSHAKE = (
    b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


@dataclass
class Tally:
    """An observer that counts what the router's activity counter will count."""

    calls: list[tuple[str, str]] = field(default_factory=list)

    def request_started(self, upstream: str, method: str) -> None:
        self.calls.append(("started", upstream))

    def request_finished(self, upstream: str, method: str, status: int, seconds: float) -> None:
        self.calls.append(("finished", upstream))

    def websocket_opened(self, upstream: str) -> None:
        self.calls.append(("ws-open", upstream))

    def websocket_closed(self, upstream: str, seconds: float) -> None:
        self.calls.append(("ws-closed", upstream))

    def count(self, what: str, upstream: str) -> int:
        return self.calls.count((what, upstream))


async def until(condition: object) -> None:
    assert callable(condition)
    async with asyncio.timeout(DEADLINE):
        while not condition():  # noqa: ASYNC110 (the observer is a plain callback, no event to wait on)
            await asyncio.sleep(0.01)


async def read_ping(reader: asyncio.StreamReader) -> bytes:
    """The payload of the ping that must come next: unmasked, as it comes from the server side."""
    head = await reader.readexactly(2)
    assert head[0] == 0x89 and not head[1] & 0x80, head
    payload = await reader.readexactly(head[1])
    assert payload.startswith(b"cial-ping-")
    return payload


async def raw_websocket(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A client that does the handshake and then only what the test makes it do."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HANDSHAKE)
    async with asyncio.timeout(DEADLINE):
        head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    return reader, writer


class TestPings:
    @pytest.mark.parametrize(("interval", "timeout"), [(0.0, 1.0), (1.0, 0.0), (-1.0, 1.0)])
    def test_a_ping_interval_or_timeout_that_is_not_positive_is_refused(
        self, interval: float, timeout: float
    ) -> None:
        with pytest.raises(ValueError, match="must be > 0"):
            create_proxy(To(1), websocket_ping_interval=interval, websocket_ping_timeout=timeout)

    async def test_a_quiet_client_that_answers_pings_stays_open_and_still_talks(
        self, logs: pytest.LogCaptureFixture
    ) -> None:
        async with (
            stack_of(websocket_ping_interval=INTERVAL, websocket_ping_timeout=TIMEOUT) as stack,
            connect(f"{stack.ws_url}/ws", ping_interval=None) as ws,  # the library answers, never asks
        ):
            await asyncio.sleep(4 * INTERVAL + TIMEOUT)
            async with asyncio.timeout(DEADLINE):
                await ws.send("still here")
                assert await ws.recv() == "still here"
        pings = [
            r for r in logs.records if r.name.startswith("websockets.client") and "< PING" in r.getMessage()
        ]
        assert len(pings) >= 3

    async def test_a_client_that_sends_nothing_back_is_closed_with_1001_and_the_upstream_too(
        self, logs: pytest.LogCaptureFixture
    ) -> None:
        tally = Tally()
        loop = asyncio.get_running_loop()
        async with stack_of(
            websocket_ping_interval=INTERVAL, websocket_ping_timeout=TIMEOUT, observer=tally
        ) as stack:
            stack.platform.ws_close_code = loop.create_future()
            reader, writer = await raw_websocket(stack.port)
            opened = loop.time()
            try:
                async with asyncio.timeout(DEADLINE):
                    await read_ping(reader)
                    assert await reader.readexactly(len(CLOSE_GOING_AWAY)) == CLOSE_GOING_AWAY
                    closed = loop.time() - opened
                    assert await stack.platform.ws_close_code == 1001
            finally:
                writer.close()
            await until(lambda: tally.count("finished", "platform-front") == 1)
        assert INTERVAL + TIMEOUT - TICK <= closed <= INTERVAL + TIMEOUT + 2 * TICK + 0.25
        assert tally.calls == [
            ("started", "platform-front"),
            ("ws-open", "platform-front"),
            ("ws-closed", "platform-front"),
            ("finished", "platform-front"),
        ]
        assert [r.getMessage() for r in logs.records if "answered no ping" in r.getMessage()] == [
            "edge: a WebSocket to platform-front answered no ping in 0.3 s, closed with 1001"
        ]


@dataclass
class SlowMessage:
    """An upstream that accepts any upgrade and sends one large binary message, a piece at a time,
    slower than the ping interval; it keeps what it receives after."""

    message: bytes = field(default_factory=lambda: frame(0x2, pattern(32 * 1024), masked=False))
    piece: int = 1024
    pause: float = 0.01
    stall: float = 0.0  # after the first piece: an upstream that stops mid-frame for a while
    sending: asyncio.Event = field(default_factory=asyncio.Event)
    received: bytearray = field(default_factory=bytearray)
    got: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # the proxy closed the connection
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            receiving = asyncio.create_task(self._receive(reader))
            writer.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            )
            with contextlib.suppress(ConnectionError):  # the proxy may close it mid-message
                for offset in range(0, len(self.message), self.piece):
                    writer.write(self.message[offset : offset + self.piece])
                    await writer.drain()
                    self.sending.set()
                    await asyncio.sleep(self.stall if offset == 0 else self.pause)
            await receiving
            writer.close()
        finally:
            self.finished.set()

    async def _receive(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                self.received += data
                self.got.set()
        self.ended.set()


@dataclass
class To:
    port: int

    async def resolve(self, host: str, path: str) -> Upstream:
        return Upstream("slow", "127.0.0.1", self.port, path)


@dataclass
class Slow:
    upstream: SlowMessage
    proxy: Proxy
    port: int


@contextlib.asynccontextmanager
async def slow_stack(
    upstream: SlowMessage, ping_timeout: float = DEADLINE, observer: Tally | None = None
) -> AsyncIterator[Slow]:
    server = await asyncio.start_server(upstream, "127.0.0.1", 0)
    upstream_port = server.sockets[0].getsockname()[1]
    proxy = create_proxy(
        To(upstream_port),
        websocket_ping_interval=0.05,
        websocket_ping_timeout=ping_timeout,
        observer=observer,
    )
    async with server, proxy.running() as port:
        yield Slow(upstream, proxy, port)


@pytest.fixture
async def slow() -> AsyncIterator[Slow]:
    async with slow_stack(SlowMessage()) as stack:
        yield stack


class TestFrameBoundaries:
    async def test_the_ping_waits_for_the_upstreams_frame_to_end_and_its_pong_is_not_passed_on(
        self, slow: Slow
    ) -> None:
        upstream = slow.upstream
        reader, writer = await raw_websocket(slow.port)
        try:
            async with asyncio.timeout(DEADLINE):
                # 32 pieces 10 ms apart: the interval (50 ms) runs out while the frame is half sent.
                assert await reader.readexactly(len(upstream.message)) == upstream.message
                ping = await read_ping(reader)
                # A pong to another proxy's ping (the edge's, behind the router) is not ours to keep.
                passed_on = masked_frame(0xA, b"cial-ping-00000000") + masked_frame(0x1, b"hello")
                writer.write(masked_frame(0xA, ping) + passed_on)
                while len(upstream.received) < len(passed_on):
                    upstream.got.clear()
                    await upstream.got.wait()
            assert bytes(upstream.received) == passed_on
        finally:
            writer.close()

    async def test_a_close_on_demand_waits_for_the_upstreams_frame_to_end(self, slow: Slow) -> None:
        upstream = slow.upstream
        reader, writer = await raw_websocket(slow.port)
        try:
            async with asyncio.timeout(DEADLINE):
                await reader.readexactly(1)  # the frame is under way
                assert slow.proxy.close_websockets("slow") == 1
                assert await reader.readexactly(len(upstream.message) - 1) == upstream.message[1:]
                assert await reader.readexactly(len(CLOSE_GOING_AWAY)) == CLOSE_GOING_AWAY
                while len(upstream.received) < 8:
                    upstream.got.clear()
                    await upstream.got.wait()
            # masked, as the proxy is the client on that side: unmask the two-byte code
            key, payload = upstream.received[2:6], upstream.received[6:8]
            assert upstream.received[:2] == b"\x88\x82"
            assert bytes(b ^ key[i] for i, b in enumerate(payload)) == b"\x03\xe9"
        finally:
            writer.close()

    async def test_a_client_that_talks_while_the_upstream_stalls_mid_frame_is_not_closed(self) -> None:
        # The ping cannot go out for 0.6 s; the client's own frames answer for it meanwhile.
        async with slow_stack(SlowMessage(stall=0.6), ping_timeout=0.15) as slow:
            upstream = slow.upstream
            reader, writer = await raw_websocket(slow.port)
            try:
                async with asyncio.timeout(DEADLINE):
                    received = asyncio.ensure_future(reader.readexactly(len(upstream.message)))
                    while not received.done():
                        writer.write(masked_frame(0x1, b"here"))
                        await asyncio.sleep(0.05)
                    assert await received == upstream.message
                    await read_ping(reader)  # now that it is quiet
            finally:
                writer.close()

    async def test_a_close_that_an_upstream_stalled_mid_frame_holds_back_ends_both_connections(
        self,
    ) -> None:
        # No close frame can reach the client inside the frame: after the wait, the upstream gets
        # its close and the client's connection just ends.
        tally = Tally()
        upstream = SlowMessage(stall=0.6)
        async with slow_stack(upstream, ping_timeout=0.15, observer=tally) as slow:
            reader, writer = await raw_websocket(slow.port)
            try:
                async with asyncio.timeout(DEADLINE):
                    assert await reader.readexactly(upstream.piece) == upstream.message[: upstream.piece]
                    assert slow.proxy.close_websockets("slow") == 1
                    assert await reader.read() == b""  # nothing more, not half a frame and a close
                    await upstream.ended.wait()
                    await upstream.finished.wait()
            finally:
                writer.close()
            await until(lambda: tally.count("finished", "slow") == 1)
        assert upstream.received[:2] == b"\x88\x82"  # a masked close with a code, the only frame
        assert len(upstream.received) == 8
        assert tally.calls == [
            ("started", "slow"),
            ("ws-open", "slow"),
            ("ws-closed", "slow"),
            ("finished", "slow"),
        ]


class TestCloseOnDemand:
    async def test_close_websockets_closes_that_upstreams_tunnels_with_1001_and_no_other(self) -> None:
        tally = Tally()
        loop = asyncio.get_running_loop()
        async with stack_of(observer=tally) as stack:
            async with (
                connect(f"{stack.ws_url}/ws") as first,
                connect(f"{stack.ws_url}/ws") as second,
                connect(f"{stack.ws_url}/.cial/api/ws") as other,
                asyncio.timeout(DEADLINE),
            ):
                for ws in (first, second, other):
                    await ws.send("hi")
                    assert await ws.recv() == "hi"
                asked = loop.time()
                assert stack.proxy.close_websockets("platform-front") == 2
                for ws in (first, second):
                    with pytest.raises(ConnectionClosed) as closed:
                        await ws.recv()
                    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
                # Once a client answers the close, its connection ends without the lingering wait.
                await first.wait_closed()
                await second.wait_closed()
                assert loop.time() - asked < 1.0
                await until(lambda: tally.count("ws-closed", "platform-front") == 2)
                assert stack.proxy.close_websockets("platform-front") == 0
                await other.send("still here")
                assert await other.recv() == "still here"
                assert tally.count("ws-closed", "core-back") == 0
            await until(lambda: tally.count("finished", "core-back") == 1)
            await until(lambda: tally.count("finished", "platform-front") == 2)
        for name, tunnels in (("platform-front", 2), ("core-back", 1)):
            counts = [tally.count(what, name) for what in ("started", "ws-open", "ws-closed", "finished")]
            assert counts == [tunnels] * 4
