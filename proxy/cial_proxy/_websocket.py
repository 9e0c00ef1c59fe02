"""Forward one WebSocket session to an upstream, frame by frame, close codes included."""

from __future__ import annotations

import asyncio
import contextlib

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.frames import EXTERNAL_CLOSE_CODES, CloseCode
from websockets.typing import Subprotocol

from ._refusal import CLIENT_CLOSED, deny_websocket
from ._types import RawHeaders, Receive, Scope, Send
from .routes import Upstream

# The same ceiling uvicorn puts on messages from the client, so neither direction is stricter.
_MAX_MESSAGE = 16 * 1024 * 1024


async def forward_websocket(
    upstream: Upstream,
    scope: Scope,
    receive: Receive,
    send: Send,
    headers: RawHeaders,
    *,
    open_timeout: float,
) -> int:
    """Open the upstream session first, then accept the client with what the upstream chose."""
    if (await receive())["type"] != "websocket.connect":
        return CLIENT_CLOSED
    query = scope.get("query_string", b"").decode("ascii")
    host = f"[{upstream.host}]" if ":" in upstream.host else upstream.host
    url = f"ws://{host}:{upstream.port}{upstream.path}" + (f"?{query}" if query else "")
    try:
        connection = await connect(
            url,
            subprotocols=[Subprotocol(name) for name in scope.get("subprotocols", [])] or None,
            # The handshake's own Sec-WebSocket-* headers belong to the client's connection;
            # the websockets client writes fresh ones (subprotocols are passed on above).
            additional_headers=[
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in headers
                if not name.startswith(b"sec-websocket-")
            ],
            user_agent_header=None,  # the client's own User-Agent is among the headers
            proxy=None,  # never an HTTP(S)_PROXY from the environment
            open_timeout=open_timeout,
            max_size=_MAX_MESSAGE,
        )
    except InvalidStatus as refused:
        reason = refused.response.body.decode(errors="replace").strip()
        status = refused.response.status_code
        return await deny_websocket(scope, send, status, reason or f"{upstream.name} refused the WebSocket")
    except TimeoutError:
        return await deny_websocket(scope, send, 504, f"{upstream.name} did not answer in time")
    except (OSError, InvalidHandshake):
        return await deny_websocket(scope, send, 502, f"{upstream.name} is not answering")

    async with connection:
        await send({"type": "websocket.accept", "subprotocol": connection.subprotocol})
        to_upstream = asyncio.create_task(_client_to_upstream(receive, connection))
        to_client = asyncio.create_task(_upstream_to_client(connection, send))
        try:
            # Whichever side closes first has passed its close on; the other pump is then moot.
            await asyncio.wait((to_upstream, to_client), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (to_upstream, to_client):
                task.cancel()
            await asyncio.gather(to_upstream, to_client, return_exceptions=True)
    return 101


async def _client_to_upstream(receive: Receive, connection: ClientConnection) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            code = _sendable(message.get("code", CloseCode.NORMAL_CLOSURE), CloseCode.GOING_AWAY)
            await connection.close(code, message.get("reason") or "")
            return
        if message["type"] == "websocket.receive":
            text: str | None = message.get("text")
            # Once the upstream has closed, the other pump reports it; frames in flight are moot.
            with contextlib.suppress(ConnectionClosed):
                await connection.send(text if text is not None else message.get("bytes") or b"")


async def _upstream_to_client(connection: ClientConnection, send: Send) -> None:
    try:
        async for data in connection:
            key = "text" if isinstance(data, str) else "bytes"
            await send({"type": "websocket.send", key: data})
    except ConnectionClosed:
        pass  # closed without a proper handshake: close_code says so (1006)
    except OSError:
        return  # the client is gone; the other pump sees its disconnect
    code = _sendable(connection.close_code or CloseCode.ABNORMAL_CLOSURE, CloseCode.INTERNAL_ERROR)
    with contextlib.suppress(OSError):
        await send({"type": "websocket.close", "code": code, "reason": connection.close_reason or ""})


def _sendable(code: int, fallback: int) -> int:
    """A close code that may go on the wire: 1005 and 1006 only report what happened locally."""
    if code == CloseCode.NO_STATUS_RCVD:
        return CloseCode.NORMAL_CLOSURE
    return code if code in EXTERNAL_CLOSE_CODES or 3000 <= code < 5000 else fallback
