"""A Unix-socket relay to the Docker engine that a spec can cut and restore.

An App on the host pointed at the relay (DOCKER_HOST=unix://<relay>) talks to the real engine
while the relay is up; `cut()` closes the listening socket, every open connection, and removes
the socket file, which is what a stopped Docker daemon looks like from the App's side (connect
fails with "No such file or directory"). The containers themselves are untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path

ENGINE_SOCKET = "/var/run/docker.sock"
_CHUNK = 64 * 1024


class SocketRelay:
    def __init__(self, path: Path, engine_socket: str = ENGINE_SOCKET) -> None:
        self.path = path
        self._engine = engine_socket
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="docker relay", daemon=True)
        self._thread.start()
        self._server: asyncio.AbstractServer | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    @property
    def up(self) -> bool:
        return self._server is not None

    def restore(self) -> None:
        self._call(self._open())

    def cut(self) -> None:
        self._call(self._close())

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _call(self, coro: object) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)  # type: ignore[arg-type]

    async def _open(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))

    async def _close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._pipes):
            task.cancel()
        if self._pipes:
            await asyncio.wait(list(self._pipes))
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)
        engine_writer: asyncio.StreamWriter | None = None
        try:
            engine_reader, engine_writer = await asyncio.open_unix_connection(self._engine)
            await asyncio.gather(_pipe(client_reader, engine_writer), _pipe(engine_reader, client_writer))
        except (OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Cut: end quietly. asyncio's stream callback calls exception() on this task, which
            # raises (and logs a traceback) for a task that ended cancelled.
            pass
        finally:
            self._pipes.discard(task)
            for writer in (client_writer, engine_writer):
                if writer is not None:
                    writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(_CHUNK):
        writer.write(data)
        await writer.drain()
    if writer.can_write_eof():
        with contextlib.suppress(OSError):
            writer.write_eof()
