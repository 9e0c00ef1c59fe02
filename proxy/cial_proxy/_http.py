"""Forward one HTTP request to an upstream, streaming both bodies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx

from ._headers import end_to_end
from ._refusal import CLIENT_CLOSED, respond
from ._types import RawHeaders, Receive, Scope, Send
from .routes import Upstream


async def forward_http(
    client: httpx.AsyncClient,
    upstream: Upstream,
    scope: Scope,
    receive: Receive,
    send: Send,
    headers: RawHeaders,
) -> int:
    """Relay the exchange and return the status for the log.

    One task owns ``receive()``: it feeds the request body to the upstream and then waits for the
    client to go away, so a client that leaves (mid-upload, while the upstream thinks, or during a
    long event stream) cancels the upstream request instead of leaving it running.
    """
    has_body = any(name in (b"content-length", b"transfer-encoding") for name, _ in scope["headers"])
    chunks: asyncio.Queue[bytes | None] | None = asyncio.Queue(maxsize=1) if has_body else None
    url = httpx.URL(scheme="http", host=upstream.host, port=upstream.port, raw_path=_target(upstream, scope))
    request = httpx.Request(
        scope["method"], url, headers=headers, content=None if chunks is None else _body(chunks)
    )
    listener = asyncio.create_task(_listen(receive, chunks))
    relay = asyncio.create_task(_relay(client, request, upstream.name, send))
    try:
        await asyncio.wait((listener, relay), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (listener, relay):
            task.cancel()
        await asyncio.gather(listener, relay, return_exceptions=True)
    return CLIENT_CLOSED if relay.cancelled() else relay.result()


def _target(upstream: Upstream, scope: Scope) -> bytes:
    query: bytes = scope.get("query_string", b"")
    return upstream.path.encode("ascii") + (b"?" + query if query else b"")


async def _listen(receive: Receive, chunks: asyncio.Queue[bytes | None] | None) -> None:
    """Pass the body on (``None`` ends it), then return when the client disconnects."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        if chunks is not None:
            await chunks.put(message.get("body", b""))
            if not message.get("more_body", False):
                await chunks.put(None)
                chunks = None


async def _body(chunks: asyncio.Queue[bytes | None]) -> AsyncIterator[bytes]:
    while (chunk := await chunks.get()) is not None:
        if chunk:
            yield chunk


async def _relay(client: httpx.AsyncClient, request: httpx.Request, name: str, send: Send) -> int:
    try:
        response = await client.send(request, stream=True)
    except httpx.TimeoutException:
        return await respond(send, 504, f"{name} did not answer in time")
    except httpx.TransportError:
        return await respond(send, 502, f"{name} is not answering")
    try:
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": end_to_end(response.headers.raw),
            }
        )
        # aiter_raw: the bytes as sent, so Content-Encoding and Content-Length stay true.
        async for chunk in response.aiter_raw():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except httpx.TransportError:
        # The status line is gone already. Returning without finishing the body makes the server
        # drop the connection, so the client sees a cut-off response rather than a complete-looking one.
        pass
    finally:
        await response.aclose()
    return response.status_code
