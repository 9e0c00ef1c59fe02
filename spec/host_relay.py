"""A name the WebSocket test suite can reach the router by.

`*.localhost` resolves inside Chromium but not through the C library here, and the suite's
runner (kosoku, native code) sends the Host of the URL it is given. This relay listens on a
loopback port, sets the Host header of each connection's first request (the WebSocket handshake)
to the tenant's name, and from then on passes bytes both ways unchanged, as a DNS entry for
`{slug}.localhost` would let a client do.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from types import TracebackType

_HOST_LINE = re.compile(rb"\r\nhost:[^\r\n]*", re.IGNORECASE)


class HostRelay:
    def __init__(self, target_port: int, host: str) -> None:
        self._target_port = target_port
        self._host = host.encode("ascii")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    def __enter__(self) -> HostRelay:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._relay, "127.0.0.1", 0), self._loop
        ).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _relay(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        try:
            head = await client_in.readuntil(b"\r\n\r\n")
            up_in, up_out = await asyncio.open_connection("127.0.0.1", self._target_port)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            client_out.close()
            return
        up_out.write(_HOST_LINE.sub(b"\r\nHost: " + self._host, head, count=1))
        await asyncio.gather(_pipe(client_in, up_out), _pipe(up_in, client_out))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()
