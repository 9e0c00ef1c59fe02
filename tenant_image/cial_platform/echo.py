"""WebSocket echo, so WebSocket routing to the platform can be tested for real."""

from __future__ import annotations

from typing import Any

from litestar import WebSocket


async def echo_until_closed(socket: WebSocket[Any, Any, Any]) -> None:
    """Accept, then send back every message as it came (text as text, binary as binary)."""
    await socket.accept()
    while True:
        message = await socket.receive()
        if message["type"] != "websocket.receive":
            return
        text = message.get("text")
        if text is not None:
            await socket.send_data(text, mode="text")
        else:
            await socket.send_data(message.get("bytes") or b"", mode="binary")
