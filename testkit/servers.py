"""ASGI apps served by uvicorn on 127.0.0.1 ephemeral ports, in the test's own event loop, so a
test and its server can meet on an ``asyncio.Event`` instead of on timing (the proxy's tests, the
router's)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from typing import Any

import uvicorn

from testkit.polling import GiveUp, eventually_async

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEADLINE = 5.0


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # signals belong to pytest, not to servers started inside a test


@contextlib.asynccontextmanager
async def running(*configs: uvicorn.Config) -> AsyncIterator[list[int]]:
    """Serve each config (port 0) until the block ends; yields the ports they got, in order.

    They start and stop together: uvicorn notices a stop request on a 0.1 s tick, so stopping
    one after another would add that up.
    """
    servers = [_Server(config) for config in configs]
    tasks = [asyncio.create_task(server.serve()) for server in servers]

    async def all_started() -> bool:
        for task in tasks:
            if task.done():
                try:
                    task.result()
                except Exception as error:
                    raise GiveUp(f"a server failed to start: {error!r}") from error
        return all(server.started for server in servers)

    try:
        await eventually_async(all_started, timeout=DEADLINE, interval=0.005, what="the servers to start")
        yield [server.servers[0].sockets[0].getsockname()[1] for server in servers]
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks)


def upstream_config(app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> uvicorn.Config:
    # No log config or level: the uvicorn loggers are shared, and the proxy's config sets them.
    # A bounded shutdown: a failed test may leave a handler waiting for an event nobody sets.
    return uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_config=None,
        log_level=None,
        lifespan="off",
        ws="websockets-sansio",
        timeout_graceful_shutdown=1,
    )
