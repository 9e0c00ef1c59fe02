"""A proxy as an object: built from a resolver, run in-process (tests) or as a process (serve)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import AsyncIterator, Collection

from ._engine import Engine
from ._logging import redact_query_strings
from ._types import MIB, Observer, Options
from .routes import RequestHook, Resolver

_log = logging.getLogger("cial_proxy")

# Long-lived streams would hold a graceful shutdown open forever; this bounds it (below
# Docker's 10 s between SIGTERM and SIGKILL, and the supervisor's grace).
GRACEFUL_SHUTDOWN_SECONDS = 5.0


class Proxy:
    """One reverse proxy: a resolver, its options, and (once started) a listening server."""

    def __init__(self, resolver: Resolver, options: Options, observer: Observer | None = None) -> None:
        self.options = options
        self._engine = Engine(resolver, options, observer)
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None

    def close_websockets(self, upstream_name: str, code: int = 1001) -> int:
        """Close every WebSocket open to the upstream named ``upstream_name``; return how many.

        Each client gets a close frame with ``code`` (1001, going away: RFC 6455 §7.4.1) as soon as
        the upstream's frame in progress, if any, has ended; the upstream gets a close; both
        connections end shortly after. The router drains an idle tenant with it before stopping it.
        """
        closed = sum(
            connection.close_websocket(upstream_name, code) for connection in list(self._engine.connections)
        )
        if closed:
            name = self.options.name
            _log.info("%s: closed %d WebSocket(s) to %s with %d", name, closed, upstream_name, code)
        return closed

    @property
    def upstream_connections_opened(self) -> int:
        """How many upstream connections this proxy has ever opened (pool reuse shows here)."""
        return self._engine.pool.opened

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, *, sock: socket.socket | None = None
    ) -> int:
        """Listen on ``host``:``port`` (0: any free port) or on ``sock``; return the bound port."""
        loop = asyncio.get_running_loop()
        if sock is not None:
            self._server = await loop.create_server(self._engine.protocol, sock=sock, backlog=1024)
        else:
            self._server = await loop.create_server(
                self._engine.protocol, host, port, backlog=1024, reuse_address=True
            )
        self._sweeper = loop.create_task(self._engine.sweep())
        port_bound: int = self._server.sockets[0].getsockname()[1]
        return port_bound

    async def stop(self, grace: float = GRACEFUL_SHUTDOWN_SECONDS) -> None:
        """Stop listening, let exchanges in progress finish for up to ``grace`` seconds, close all."""
        engine = self._engine
        engine.stopping = True
        if self._server is not None:
            self._server.close()
        for connection in list(engine.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while engine.connections and loop.time() < deadline:  # noqa: ASYNC110 (no event per connection)
            await asyncio.sleep(0.02)
        for connection in list(engine.connections):
            connection.abort()
        engine.pool.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        engine.stopping = False

    @contextlib.asynccontextmanager
    async def running(
        self, host: str = "127.0.0.1", port: int = 0, *, sock: socket.socket | None = None, grace: float = 1.0
    ) -> AsyncIterator[int]:
        """Serve while the block runs; yields the bound port."""
        bound = await self.start(host, port, sock=sock)
        try:
            yield bound
        finally:
            await self.stop(grace)


def create_proxy(
    resolver: Resolver,
    *,
    name: str = "proxy",
    trust_forwarded: bool = False,
    strip_cookies: Collection[str] = (),
    connect_timeout: float = 5.0,
    read_timeout: float = 60.0,
    header_timeout: float = 5.0,
    idle_timeout: float = 15.0,
    max_connections: int = 1024,
    max_message_size: int = 16 * MIB,
    websocket_ping_interval: float | None = None,
    websocket_ping_timeout: float = 20.0,
    observer: Observer | None = None,
    request_hook: RequestHook | None = None,
) -> Proxy:
    """A proxy that sends each request where ``resolver`` says (HTTP/1.1 streaming + WebSocket).

    - ``name`` labels the log lines (e.g. "edge", "router").
    - ``trust_forwarded``: only behind another proxy that always sets X-Forwarded-* itself (the
      edge behind the router): the values it sent are kept. Otherwise they are the proxy's own.
    - ``strip_cookies``: cookie names removed from Cookie before forwarding (the App's session).
    - ``connect_timeout`` / ``read_timeout``: an upstream that cannot be reached gets 502, one
      that does not start answering within ``read_timeout`` of the last request byte gets 504.
    - ``header_timeout``: a client has this long to send a whole request head once it started.
    - ``idle_timeout``: a keep-alive connection with no request in progress is closed after it;
      it never applies to a response being streamed or to a WebSocket.
    - ``max_connections``: client connections beyond it get 503 and are closed.
    - ``max_message_size``: a WebSocket message larger than this, in either direction, ends the
      session with close 1009.
    - ``websocket_ping_interval`` / ``websocket_ping_timeout``: a WebSocket client that sent
      nothing for the interval gets a ping (between the upstream's frames), and one that then sends
      nothing for the timeout is closed with 1001, the upstream too: a client gone without a FIN
      (a laptop lid closed) does not hold its tunnel open forever. Any byte counts as an answer;
      the pongs to these pings are not passed on. None (the default): no pings.
    - ``observer``: told of each request and WebSocket (metrics), see :class:`Observer`.
    - ``request_hook``: rewrites each request's headers for the upstream it resolved to, or
      refuses it (the edge: identity headers, Core's cookie), see :class:`RequestHook`.
    """
    if websocket_ping_interval is not None and min(websocket_ping_interval, websocket_ping_timeout) <= 0:
        # 0 would ping on every sweep tick: None is how pings are turned off.
        raise ValueError("websocket_ping_interval and websocket_ping_timeout must be > 0 (None: no pings)")
    redact_query_strings()
    options = Options(
        name=name,
        trust_forwarded=trust_forwarded,
        strip_cookies=frozenset(cookie.encode("latin-1") for cookie in strip_cookies),
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        header_timeout=header_timeout,
        idle_timeout=idle_timeout,
        max_connections=max_connections,
        max_message_size=max_message_size,
        websocket_ping_interval=websocket_ping_interval,
        websocket_ping_timeout=websocket_ping_timeout,
        request_hook=request_hook,
    )
    return Proxy(resolver, options, observer)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop where it is installed (about twice the throughput here), asyncio's otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def serve(
    proxy: Proxy,
    *,
    host: str = "0.0.0.0",
    port: int = 8080,
    sock: socket.socket | None = None,
    log_level: str = "info",
) -> None:
    """Run ``proxy`` until SIGINT/SIGTERM, logging one line per request to stdout; then stop it
    gracefully (at most :data:`GRACEFUL_SHUTDOWN_SECONDS`) and return."""
    logging.basicConfig(
        stream=sys.stdout,
        level=logging.getLevelName(log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    redact_query_strings()
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(_serve_until_signalled(proxy, host, port, sock))


async def _serve_until_signalled(proxy: Proxy, host: str, port: int, sock: socket.socket | None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    bound = await proxy.start(host, port, sock=sock)
    _log.info("%s listening on %s:%d", proxy.options.name, host if sock is None else "socket", bound)
    await stop.wait()
    _log.info("%s stopping (at most %.0f s)", proxy.options.name, GRACEFUL_SHUTDOWN_SECONDS)
    await proxy.stop()
    _log.info("%s stopped", proxy.options.name)
