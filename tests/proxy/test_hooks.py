"""Unix-socket upstreams and the per-request hook: the two things the tenant's edge needs from the
engine to keep Core where ``agent`` cannot connect and identity where only the edge can set it."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cial_proxy import Forbidden, RequestHeaders, Upstream, cookie_value, create_proxy, without_cookies

from .conftest import DEADLINE


@dataclass
class HeadEcho:
    """A keep-alive upstream that answers each request head with that head as its body."""

    accepted: int = 0
    heads: list[bytes] = field(default_factory=list)

    def protocol(self) -> asyncio.Protocol:
        upstream = self

        class Echo(asyncio.Protocol):
            def __init__(self) -> None:
                self.pending = b""

            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                upstream.accepted += 1
                assert isinstance(transport, asyncio.Transport)
                self.transport = transport

            def data_received(self, data: bytes) -> None:
                self.pending += data
                while b"\r\n\r\n" in self.pending:
                    head, _, self.pending = self.pending.partition(b"\r\n\r\n")
                    upstream.heads.append(head)
                    self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(head) + head)

        return Echo()


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    # Short on purpose: a unix socket's path must fit in 108 bytes, pytest's tmp_path may not.
    directory = Path(tempfile.mkdtemp(prefix="cial-", dir="/tmp"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class OnSocket:
    socket: str

    async def resolve(self, host: str, path: str) -> Upstream:
        return Upstream.unix("core-back", self.socket, path)


def header_lines(head: bytes) -> list[tuple[str, str]]:
    lines = head.decode().split("\r\n")[1:]
    return [(name.lower(), value.strip()) for name, _, value in (line.partition(":") for line in lines)]


@pytest.fixture
async def unix_upstream(socket_dir: Path) -> AsyncIterator[tuple[HeadEcho, str]]:
    upstream = HeadEcho()
    path = str(socket_dir / "back.sock")
    server = await asyncio.get_running_loop().create_unix_server(upstream.protocol, path)
    async with server:
        yield upstream, path


class TestUnixSocketUpstream:
    async def test_requests_reach_it_over_pooled_connections(
        self, unix_upstream: tuple[HeadEcho, str]
    ) -> None:
        upstream, path = unix_upstream
        proxy = create_proxy(OnSocket(path), name="edge")
        async with (
            proxy.running() as port,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=DEADLINE) as client,
        ):
            responses = [await client.get(f"/n/{n}?q=1") for n in range(5)]
        assert [response.status_code for response in responses] == [200] * 5
        assert responses[0].content.startswith(b"GET /n/0?q=1 HTTP/1.1")
        assert ("host", "localhost") in header_lines(responses[0].content)
        assert upstream.accepted == 1  # keyed by the socket path, reused like a TCP upstream
        assert proxy.upstream_connections_opened == 1

    async def test_a_socket_nobody_listens_on_is_a_502(self, socket_dir: Path) -> None:
        proxy = create_proxy(OnSocket(str(socket_dir / "absent.sock")), name="edge")
        async with (
            proxy.running() as port,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=DEADLINE) as client,
        ):
            response = await client.get("/")
        assert response.status_code == 502
        assert "core-back is not answering" in response.text

    def test_an_upstream_names_its_address(self) -> None:
        assert Upstream("a", "127.0.0.1", 3000, "/").address == ("127.0.0.1", 3000)
        assert Upstream.unix("b", "/run/x.sock", "/").address == "/run/x.sock"


@dataclass
class Hook:
    """Drops ``x-secret``, adds ``x-added: <upstream>``, refuses ``x-refuse``, breaks on ``x-break``."""

    calls: int = 0

    async def __call__(self, upstream: Upstream, headers: RequestHeaders) -> RequestHeaders:
        self.calls += 1
        names = {name for name, _ in headers}
        if b"x-refuse" in names:
            raise Forbidden("refused by the hook")
        if b"x-break" in names:
            raise RuntimeError("a bug in the hook")
        kept = [(name, value) for name, value in headers if name != b"x-secret"]
        return [*kept, (b"x-added", upstream.name.encode())]


class TestRequestHook:
    async def test_rewrites_headers_per_upstream(self, unix_upstream: tuple[HeadEcho, str]) -> None:
        _, path = unix_upstream
        hook = Hook()
        proxy = create_proxy(OnSocket(path), name="edge", request_hook=hook)
        async with (
            proxy.running() as port,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=DEADLINE) as client,
        ):
            response = await client.get("/", headers={"X-Secret": "s3", "X-Kept": "k"})
        lines = header_lines(response.content)
        assert ("x-added", "core-back") in lines
        assert ("x-kept", "k") in lines
        assert "x-secret" not in dict(lines)
        assert hook.calls == 1

    @pytest.mark.parametrize(
        ("header", "status", "says"),
        [("x-refuse", 403, "refused by the hook"), ("x-break", 503, "cannot be routed right now")],
    )
    async def test_a_refusal_or_a_failure_never_reaches_the_upstream(
        self, unix_upstream: tuple[HeadEcho, str], header: str, status: int, says: str
    ) -> None:
        upstream, path = unix_upstream
        proxy = create_proxy(OnSocket(path), name="edge", request_hook=Hook())
        async with (
            proxy.running() as port,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=DEADLINE) as client,
        ):
            refused = await client.get("/", headers={header: "1"})
            after = await client.get("/")  # the connection and the proxy carry on
        assert refused.status_code == status
        assert says in refused.text
        assert after.status_code == 200
        assert len(upstream.heads) == 1


class TestCookieHelpers:
    @pytest.mark.parametrize(
        ("header", "value"),
        [
            (b"a=1; s=abc; b=2", b"abc"),
            (b"s=first; s=second", b"first"),
            (b"as=1; sx=2", None),
            (b"", None),
            (b" s = spaced ", b"spaced"),
        ],
    )
    def test_cookie_value(self, header: bytes, value: bytes | None) -> None:
        assert cookie_value(header, b"s") == value

    def test_without_cookies_keeps_the_others(self) -> None:
        assert without_cookies(b"theme=dark; s=abc; lang=en; s=x", {b"s"}) == b"theme=dark; lang=en"
