"""Allowed hosts: a request whose Host header names another host is refused (400) before any
handler or other middleware sees it.

The App is reached as localhost:<port> and 127.0.0.1:<port>; a browser sends whatever name it
resolved. A page on evil.example whose DNS answer turns to 127.0.0.1 (DNS rebinding) is
same-origin with itself, its Origin matches its Host, and without this check it could, from the
owner's browser, sign up the owner of a fresh install (sign-up needs no cookie).

Litestar's own AllowedHostsMiddleware compares the whole header, port included (every port would
have to be listed, and specs publish the App on a random one) and answers in a shape of its own;
this one compares the name alone and answers with the App's error body.
"""

from __future__ import annotations

from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from cial_app.errors import UnknownHost
from cial_app.hosts import host_name


class AllowedHostsMiddleware(ASGIMiddleware):
    # The App serves no WebSocket; HTTP is all there is to check.
    scopes = (ScopeType.HTTP,)

    def __init__(self, allowed: frozenset[str]) -> None:
        self.allowed = allowed

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        header = Headers.from_scope(scope).get("host")
        if header is None or host_name(header) not in self.allowed:
            raise UnknownHost(header)
        await next_app(scope, receive, send)
