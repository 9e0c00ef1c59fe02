"""Every request needs the bearer token, before routing: an unknown path, a wrong method and a
real verb all get the same 401 without it, so the service reveals nothing to a caller without it.

A plain ASGI wrapper rather than a route guard: guards run only on matched routes."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

# Plain ASGI types: the gate wraps any ASGI app and needs none of the framework.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNAUTHORIZED = json.dumps(
    {"error": "unauthorized", "reason": "a bearer token is required (CIAL_ORCHESTRATOR_TOKEN)"}
).encode()


class TokenGate:
    def __init__(self, app: Any, token: str) -> None:
        """`app`: any ASGI application (typed loosely: frameworks each spell the ASGI types their own way)."""
        self._app: ASGIApp = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket" and not self._allowed(scope):
            await send({"type": "websocket.close", "code": 1008})
            return
        if kind == "http" and not self._allowed(scope):
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(UNAUTHORIZED)).encode()),
                        (b"www-authenticate", b"Bearer"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": UNAUTHORIZED})
            return
        await self._app(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or [])
        given = [value for name, value in headers if name.lower() == b"authorization"]
        # Exactly one header; compared in constant time, so the token cannot be guessed by timing.
        return len(given) == 1 and hmac.compare_digest(given[0], self._expected)
