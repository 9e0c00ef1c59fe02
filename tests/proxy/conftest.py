"""Real servers for the proxy tests: uvicorn on 127.0.0.1 ephemeral ports, in the test's own loop.

Sharing the loop lets a test and an upstream meet on an ``asyncio.Event`` ("the first chunk has
arrived") instead of on timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cial_proxy import NoRoute, Proxy, Unavailable, Upstream, create_proxy

from testkit.ports import closed_port
from testkit.servers import running, upstream_config

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEADLINE = 5.0  # seconds any single wait in these tests may take before it counts as a failure
GZIPPED = gzip.compress(b"compressed on purpose " * 100)


@dataclass
class Backend:
    """A raw ASGI upstream that reports what it saw and lets a test pace it."""

    name: str
    release: asyncio.Event = field(default_factory=asyncio.Event)
    first_chunk_seen: asyncio.Event = field(default_factory=asyncio.Event)
    hanging: asyncio.Event = field(default_factory=asyncio.Event)
    hang_abandoned: asyncio.Event = field(default_factory=asyncio.Event)
    ws_seen: list[Scope] = field(default_factory=list)
    ws_close_code: asyncio.Future[int] | None = None
    port: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        path: str = scope["path"]
        if path.endswith("/stream"):
            await self._stream(send)
        elif path.endswith("/upload"):
            await self._upload(receive, send)
        elif path.endswith("/hang"):
            self.hanging.set()
            while (await receive())["type"] != "http.disconnect":
                pass
            self.hang_abandoned.set()
        elif path.endswith("/cut"):
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"partial", "more_body": True})
            raise RuntimeError("upstream dies mid-response (on purpose)")
        elif "/bytes/" in path:
            await self._bytes(int(path.rsplit("/", 1)[1]), send)
        else:
            await self._fixed(scope, receive, send)

    async def _fixed(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        headers: list[tuple[bytes, bytes]] = [(b"x-served-by", self.name.encode())]
        status, body = 200, b""
        if path.endswith("/cookies"):
            headers += [(b"set-cookie", b"a=1; Path=/"), (b"set-cookie", b"b=2; Path=/; HttpOnly")]
        elif path.endswith("/hop"):
            headers += [
                (b"connection", b"x-up-hop"),
                (b"x-up-hop", b"1"),
                (b"keep-alive", b"timeout=3"),
                (b"proxy-authenticate", b"Basic"),
                (b"trailer", b"x-checksum"),
                (b"x-end-to-end", b"kept"),
            ]
        elif path.endswith("/gzip"):
            headers += [(b"content-encoding", b"gzip"), (b"content-type", b"text/plain")]
            body = GZIPPED
        elif path.endswith("/redirect"):
            status, headers = 302, [*headers, (b"location", b"/elsewhere")]
        elif "/status/" in path:
            status, body = int(path.rsplit("/", 1)[1]), b"status body"
        else:
            request_body = await _read_body(receive)
            body = json.dumps(
                {
                    "served_by": self.name,
                    "method": scope["method"],
                    "path": scope["raw_path"].decode(),
                    "query": scope["query_string"].decode(),
                    "headers": [[name.decode(), value.decode()] for name, value in scope["headers"]],
                    "body": request_body.decode(errors="replace"),
                }
            ).encode()
            headers.append((b"content-type", b"application/json"))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _stream(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await self.release.wait()
        await send({"type": "http.response.body", "body": b"second"})

    async def _upload(self, receive: Receive, send: Send) -> None:
        digest, size = hashlib.sha256(), 0
        while True:
            message = await receive()
            chunk: bytes = message.get("body", b"")
            if chunk:
                self.first_chunk_seen.set()
            digest.update(chunk)
            size += len(chunk)
            if not message.get("more_body", False):
                break
        body = json.dumps({"size": size, "sha256": digest.hexdigest()}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    async def _bytes(self, size: int, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        block = pattern(64 * 1024)
        for offset in range(0, size, len(block)):
            await send({"type": "http.response.body", "body": block[: size - offset], "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # websocket.connect
        self.ws_seen.append(scope)
        if scope["path"].endswith("/refuse"):
            await send({"type": "websocket.http.response.start", "status": 403, "headers": []})
            await send({"type": "websocket.http.response.body", "body": b"upstream says no"})
            return
        offered: list[str] = scope["subprotocols"]
        await send({"type": "websocket.accept", "subprotocol": "v1.chat" if "v1.chat" in offered else None})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                if self.ws_close_code is not None:
                    self.ws_close_code.set_result(message["code"])
                return
            text = message.get("text") or ""
            if text.startswith("big:"):  # a reply far larger than the request
                await send({"type": "websocket.send", "text": "x" * int(text[4:])})
                continue
            if message.get("text") == "close-me":
                await send({"type": "websocket.close", "code": 4001, "reason": "bye"})
                return
            await send({"type": "websocket.send", "text": message.get("text"), "bytes": message.get("bytes")})


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        chunk: bytes = message.get("body", b"")
        body += chunk
        if not message.get("more_body", False):
            return body


def pattern(size: int) -> bytes:
    """Bytes that are not all alike, so a shuffled or dropped chunk changes the digest."""
    return bytes(range(256)) * (size // 256) + bytes(range(size % 256))


@dataclass
class TableResolver:
    """Path prefix -> backend, like the edge; records every question it is asked."""

    core: Backend
    platform: Backend
    dead_port: int
    asked: list[tuple[str, str]] = field(default_factory=list)

    async def resolve(self, host: str, path: str) -> Upstream:
        self.asked.append((host, path))
        if path.startswith("/missing"):
            raise NoRoute("nothing serves /missing")
        if path.startswith("/asleep"):
            raise Unavailable("acme is not running", retry_after=5)
        if path.startswith("/down"):
            return Upstream("core-back", "127.0.0.1", self.dead_port, path)
        if path.startswith("/.cial/api/"):
            return Upstream("core-back", "127.0.0.1", self.core.port, path)
        if path.startswith("/renamed/"):
            return Upstream("platform-front", "127.0.0.1", self.platform.port, path.removeprefix("/renamed"))
        return Upstream("platform-front", "127.0.0.1", self.platform.port, path)


@dataclass
class Stack:
    """Two upstreams behind one proxy, plus a client pointed at the proxy."""

    core: Backend
    platform: Backend
    resolver: TableResolver
    port: int
    client: httpx.AsyncClient
    proxy: Proxy

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def stack_of(**proxy_options: Any) -> AsyncIterator[Stack]:
    core, platform = Backend("core-back"), Backend("platform-front")
    # The down upstream's port: bound, never listening, so nothing else can answer on it.
    with closed_port() as down_port:
        resolver = TableResolver(core, platform, down_port)
        proxy = create_proxy(resolver, name="edge", **proxy_options)
        async with (
            running(upstream_config(core), upstream_config(platform)) as (core.port, platform.port),
            proxy.running() as port,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=DEADLINE) as client,
        ):
            yield Stack(core, platform, resolver, port, client, proxy)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> pytest.LogCaptureFixture:
    """Every record at DEBUG and up, uvicorn's included.

    uvicorn's default log config (used by any earlier server in this process) stops its records
    at the "uvicorn" logger; letting them propagate brings them to the capture.
    """
    monkeypatch.setattr(logging.getLogger("uvicorn"), "propagate", True)
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture
async def proxied() -> AsyncIterator[Stack]:
    async with stack_of() as stack:
        yield stack


async def raw_exchange(port: int, request: bytes) -> tuple[bytes, bytes]:
    """Send bytes exactly as written (no client library adding headers); return head and body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(DEADLINE):
            response = await reader.read(-1)  # the request says Connection: close
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    return head, body
