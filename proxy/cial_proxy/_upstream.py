"""Connections to upstreams: an asyncio protocol parsing responses with httptools, and a pool.

The pool keeps, per upstream address, a bounded stack of idle keep-alive connections and hands out
the most recently used first (LIFO: warm connections stay warm, surplus ones age out). A connection
goes back only after a complete response to a completely sent request on a connection both sides
keep alive; anything else (an error, a cut body, an upgrade) closes it. The number in use is
bounded by the proxy's client connections, each of which forwards one request at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import httptools

from ._types import Options, RawHeaders

if TYPE_CHECKING:
    from ._engine import Exchange

# (host, port) for TCP, or the path of a unix socket.
Address = tuple[str, int] | str


class UpstreamError(Exception):
    """The upstream broke the exchange (refused, reset, or sent something that is not HTTP)."""


class UpstreamConnection(asyncio.Protocol):
    """One connection (TCP or unix socket) to an upstream; reports each response to the
    :class:`Exchange` using it."""

    def __init__(self, pool: Pool, address: Address) -> None:
        self.pool = pool
        self.address = address
        self.transport: asyncio.Transport | None = None
        self.exchange: Exchange | None = None
        self.closed = False
        self.idle_since = 0.0
        self.received = False  # any byte of a response since the last request was sent
        self.no_body = False  # the request was HEAD: whatever the headers say, no body follows
        self.tunnel: Callable[[bytes], None] | None = None
        self.on_close: Callable[[], None] | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._reason = b""
        self._headers: RawHeaders = []
        self._interim = False
        self._skip_rest = False

    # -- asyncio ------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.tunnel is not None:
            self.tunnel(data)
            return
        exchange = self.exchange
        if exchange is None:  # bytes nobody asked for on an idle connection: it is not reusable
            self.close()
            return
        self.received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            exchange.upstream_upgraded(data[upgrade.args[0] :])
        except httptools.HttpParserError as error:
            self.close()
            exchange.upstream_failed(UpstreamError(f"protocol error: {error}"))
        exchange.flush()
        if self._skip_rest:
            # llhttp cannot be told a response answers HEAD; a fresh parser starts at the next one.
            self._parser = httptools.HttpResponseParser(self)
            self._skip_rest = False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        if self.on_close is not None:
            self.on_close()
        if self.exchange is not None:
            self.exchange.upstream_lost()

    def pause_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.upstream_writable(False)

    def resume_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.upstream_writable(True)

    # -- httptools ----------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._reason, self._headers = b"", []

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        # 1xx other than 101 are interim (RFC 9110 §15.2): the final response follows; the engine
        # answers Expect itself, so none of them is passed on.
        # 101 is final but has no message after it: the bytes that follow are the new protocol's.
        self._interim = 100 <= status < 200
        if status == 101 and self.exchange is not None:
            self.exchange.upstream_head(status, self._reason, self._headers, False)
            return
        if self._interim or self.exchange is None:
            return
        self.exchange.upstream_head(status, self._reason, self._headers, self._parser.should_keep_alive())
        if self.no_body:
            self._skip_rest = True
            self.exchange.upstream_complete()

    def on_body(self, body: bytes) -> None:
        if self.exchange is not None and not self._skip_rest:
            self.exchange.upstream_body(body)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
        elif self.exchange is not None and not self._skip_rest:
            self.exchange.upstream_complete()

    # -- use ----------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def pause_reading(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.closed and not self.transport.is_reading():
            self.transport.resume_reading()

    def close(self) -> None:
        self.exchange = None
        if self.transport is not None:
            self.transport.close()
        self.closed = True
        self.pool.forget(self)

    def abort(self) -> None:
        self.exchange = None
        if self.transport is not None:
            self.transport.abort()
        self.closed = True
        self.pool.forget(self)


class Pool:
    """Idle keep-alive connections per upstream address, most recently used first."""

    def __init__(self, options: Options) -> None:
        self._options = options
        self._idle: dict[Address, list[UpstreamConnection]] = {}
        self.opened = 0  # connections ever made (tests and benches read it)

    async def acquire(self, address: Address) -> tuple[UpstreamConnection, bool]:
        """A connection to ``address`` and whether it was reused. Raises OSError or TimeoutError."""
        idle = self._idle.get(address)
        if idle:
            now = asyncio.get_running_loop().time()
            while idle:
                connection = idle.pop()
                # An upstream closes idle connections on its own clock (uvicorn: 5 s); retiring ours
                # first makes it rare to send a request into a connection that is being closed.
                if connection.closed or now - connection.idle_since > self._options.pool_idle_seconds:
                    connection.close()
                    continue
                return connection, True
        return await self.connect(address), False

    async def connect(self, address: Address) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self._options.connect_timeout):
            if isinstance(address, str):
                _, connection = await loop.create_unix_connection(
                    lambda: UpstreamConnection(self, address), address
                )
            else:
                _, connection = await loop.create_connection(
                    lambda: UpstreamConnection(self, address), address[0], address[1]
                )
        self.opened += 1
        return connection

    def release(self, connection: UpstreamConnection) -> None:
        connection.exchange = None
        connection.received = False
        if connection.closed:
            return
        connection.resume_reading()
        idle = self._idle.setdefault(connection.address, [])
        if len(idle) >= self._options.pool_idle_per_upstream:
            idle.pop(0).close()  # the least recently used makes room
        connection.idle_since = asyncio.get_running_loop().time()
        idle.append(connection)

    def forget(self, connection: UpstreamConnection) -> None:
        idle = self._idle.get(connection.address)
        if idle and connection in idle:
            idle.remove(connection)

    def close(self) -> None:
        for idle in list(self._idle.values()):
            for connection in list(idle):
                connection.close()
        self._idle.clear()
