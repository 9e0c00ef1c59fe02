"""What the proxy writes to its log, and what it never writes there."""

from __future__ import annotations

import logging
import re

import pytest
from websockets.asyncio.client import connect

from .conftest import stack_of

SECRET = "sso-token-3f9c2a"


def proxy_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "cial_proxy"]


class TestRequestLines:
    async def test_each_request_gets_one_line_with_method_path_status_duration_and_upstream(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO)
        async with stack_of() as stack:
            await stack.client.post("/.cial/api/echo", content=b"x")
            await stack.client.get("/missing")
        assert len(proxy_lines(caplog)) == 2
        api, missing = proxy_lines(caplog)
        assert re.fullmatch(r"edge POST /\.cial/api/echo 200 \d+\.\dms -> core-back", api)
        assert re.fullmatch(r"edge GET /missing 404 \d+\.\dms -> -", missing)

    async def test_a_websocket_session_gets_one_line_when_it_ends(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO)
        async with stack_of() as stack, connect(f"{stack.ws_url}/ws") as ws:
            await ws.send("hi")
            await ws.recv()
        (line,) = proxy_lines(caplog)
        assert re.fullmatch(r"edge WEBSOCKET /ws 101 \d+\.\dms -> platform-front", line)


class TestQueryStrings:
    async def test_no_log_line_of_any_library_carries_a_query_string(
        self, logs: pytest.LogCaptureFixture
    ) -> None:
        async with stack_of() as stack:
            echoed = (await stack.client.get(f"/.cial/api/sso?token={SECRET}")).json()
            async with connect(f"{stack.ws_url}/ws?token={SECRET}") as ws:
                await ws.send("hi")
                await ws.recv()
            await stack.client.get(f"/missing?token={SECRET}")
            await stack.client.get(f"/down?token={SECRET}")
        assert echoed["query"] == f"token={SECRET}"  # the token did travel, to the upstream only
        assert {record.name for record in logs.records} >= {"cial_proxy", "httpx"}
        assert SECRET not in logs.text
        assert all(SECRET not in record.getMessage() for record in logs.records)
        assert "GET /.cial/api/sso 200" in logs.text
