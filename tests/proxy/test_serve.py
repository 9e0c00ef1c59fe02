"""serve() as a process runs it: lines on stdout, none with a query string, a clean stop."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from asyncio.subprocess import Process
from collections.abc import AsyncIterator
from pathlib import Path

import cial_proxy
import httpx
import pytest
from websockets.asyncio.client import connect

from testkit.polling import GiveUp, eventually_async
from testkit.ports import released_port
from testkit.servers import running, upstream_config

from .conftest import DEADLINE, Backend

SECRET = "sso-token-77d1e0"
PROXY_PROGRAM = """
import sys
from cial_proxy import NoRoute, Upstream, create_proxy, serve

class ToBackend:
    async def resolve(self, host, path):
        if path.startswith("/missing"):
            raise NoRoute("nothing here")
        return Upstream("core-back", "127.0.0.1", int(sys.argv[1]), path)

serve(create_proxy(ToBackend(), name="edge"), host="127.0.0.1", port=int(sys.argv[2]))
print("serve returned", flush=True)
"""


@pytest.fixture
async def served() -> AsyncIterator[tuple[int, Process]]:
    backend = Backend("core-back")
    async with running(upstream_config(backend)) as (backend.port,):
        port = released_port()  # the proxy program takes a port number only
        env = {**os.environ, "PYTHONPATH": str(Path(cial_proxy.__file__).parents[1])}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            PROXY_PROGRAM,
            str(backend.port),
            str(port),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            await _until_listening(port, process)
            yield port, process
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()


async def _until_listening(port: int, process: Process) -> None:
    async def listening() -> bool:
        if process.returncode is not None:
            raise GiveUp("the proxy process exited during startup")
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
        await writer.wait_closed()
        return True

    await eventually_async(listening, timeout=DEADLINE * 2, interval=0.05, what=f"the proxy on port {port}")


class TestServe:
    async def test_requests_are_logged_on_stdout_without_query_strings_and_sigterm_stops_it(
        self, served: tuple[int, Process]
    ) -> None:
        port, process = served
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=DEADLINE) as client:
            echoed = (await client.get(f"/sso?token={SECRET}")).json()
            refused = await client.get(f"/missing?token={SECRET}")
        async with connect(f"ws://127.0.0.1:{port}/ws?token={SECRET}") as ws:
            await ws.send("hi")
            assert await ws.recv() == "hi"

        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(DEADLINE * 2):
            raw, _ = await process.communicate()
        output = raw.decode()

        assert echoed["query"] == f"token={SECRET}"
        assert refused.status_code == 404
        assert process.returncode == 0
        assert "edge stopped" in output
        assert "serve returned" in output
        assert SECRET not in output
        assert "cial_proxy: edge GET /sso 200" in output
        assert "cial_proxy: edge GET /missing 404" in output
        assert "cial_proxy: edge WEBSOCKET /ws 101" in output
