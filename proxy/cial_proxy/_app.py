"""The proxy as an ASGI application.

Plain ASGI rather than a web framework: a proxy has to pass bodies through as they arrive, see
every WebSocket frame, and answer a refused WebSocket handshake with a real HTTP status. Framework
request objects buffer or hide exactly those parts, and routing is the resolver's job anyway.
"""

from __future__ import annotations

import time
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from ._headers import host_of, upstream_request_headers
from ._http import forward_http
from ._logging import log_request, redact_query_strings
from ._refusal import deny_websocket, respond
from ._types import ASGIApp, Receive, Scope, Send
from ._websocket import forward_websocket
from .routes import Resolver, RouteError

# Expect was answered by our own server when the body was first read; passing it on would make
# the upstream wait for a second "100 Continue" that nobody sends.
_ANSWERED_HERE = (b"expect",)


def create_proxy(
    resolver: Resolver,
    *,
    name: str,
    connect_timeout: float = 5.0,
    read_timeout: float = 60.0,
    trust_forwarded: bool = False,
) -> ASGIApp:
    """An ASGI app that sends each request where ``resolver`` says (HTTP/1.1 streaming + WebSocket).

    ``name`` labels the log lines (e.g. "edge", "router"). Set ``trust_forwarded`` only behind
    another proxy that always sets X-Forwarded-Host/-Proto itself: the values it sent are then kept.
    """
    redact_query_strings()
    return _Proxy(resolver, name, connect_timeout, read_timeout, trust_forwarded)


class _Proxy:
    def __init__(
        self,
        resolver: Resolver,
        name: str,
        connect_timeout: float,
        read_timeout: float,
        trust_forwarded: bool,
    ) -> None:
        self._resolver = resolver
        self._name = name
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._trust_forwarded = trust_forwarded
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] in ("http", "websocket"):
            await self._proxy(scope, receive, send)

    async def _proxy(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        websocket = scope["type"] == "websocket"
        path, upstream_name, status = _normalized_path(scope), "-", 500
        try:
            if path is None:
                status = await _refuse(scope, send, 400, "the request target must be a path starting with /")
                return
            try:
                upstream = await self._resolver.resolve(host_of(scope)[1], path)
            except RouteError as refusal:
                status = await _refuse(scope, send, refusal.status, refusal.message)
                return
            upstream_name = upstream.name
            headers = upstream_request_headers(
                scope, trust_forwarded=self._trust_forwarded, drop=_ANSWERED_HERE
            )
            if websocket:
                status = await forward_websocket(
                    upstream, scope, receive, send, headers, open_timeout=self._connect_timeout
                )
            else:
                status = await forward_http(self._http_client(), upstream, scope, receive, send, headers)
        finally:
            method = "WEBSOCKET" if websocket else scope["method"]
            shown = path if path is not None else scope["path"]  # never the query string
            log_request(self._name, method, shown, status, time.perf_counter() - started, upstream_name)

    def _http_client(self) -> httpx.AsyncClient:
        # Made here too, not only at lifespan startup: servers without lifespan still get one.
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(
                    connect=self._connect_timeout,
                    read=self._read_timeout,
                    write=self._read_timeout,
                    pool=self._connect_timeout,
                ),
                # No cap on connections: long-lived streams must not starve other requests. Idle
                # ones expire before uvicorn's 5 s keep-alive, so we rarely reuse a closing socket.
                limits=httpx.Limits(
                    max_connections=None, max_keepalive_connections=100, keepalive_expiry=4.0
                ),
                follow_redirects=False,
                trust_env=False,  # no HTTP_PROXY or netrc from the environment between us and upstreams
                # Refuse every cookie: a shared jar would carry one user's Set-Cookie to the next.
                cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            )
        return self._client

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._http_client()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._client is not None:
                    await self._client.aclose()
                    self._client = None
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _refuse(scope: Scope, send: Send, status: int, message: str) -> int:
    if scope["type"] == "websocket":
        return await deny_websocket(scope, send, status, message)
    return await respond(send, status, message)


def _normalized_path(scope: Scope) -> str | None:
    """The path as the upstream will receive it, percent-encoding intact, or None if there is none.

    httpx removes dot segments when it builds the upstream URL; normalizing the same way first
    means the resolver decides on exactly the path that is forwarded.
    """
    raw: bytes = scope.get("raw_path") or scope["path"].encode()
    try:
        return httpx.URL(scheme="http", host="upstream", raw_path=raw).raw_path.decode("ascii")
    except (httpx.InvalidURL, UnicodeDecodeError):
        return None
