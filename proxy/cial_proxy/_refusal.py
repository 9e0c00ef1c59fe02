"""The short answers the proxy gives itself, when no upstream will."""

from __future__ import annotations

from ._types import RawHeaders, Scope, Send

# The status a client that went away gets in the log (nginx's convention); it is never sent.
CLIENT_CLOSED = 499


def _body(message: str) -> tuple[RawHeaders, bytes]:
    body = (message + "\n").encode()
    return [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ], body


async def respond(send: Send, status: int, message: str) -> int:
    headers, body = _body(message)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return status


async def deny_websocket(scope: Scope, send: Send, status: int, message: str) -> int:
    """Refuse a WebSocket handshake with an HTTP status where the server lets us, else a close code."""
    if "websocket.http.response" in scope.get("extensions", {}):
        headers, body = _body(message)
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        # Closing before accept turns into a bare 403 on the wire; the code is all we can say.
        await send({"type": "websocket.close", "code": 1008 if status < 500 else 1011})
    return status
