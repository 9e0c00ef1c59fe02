"""The router's control listener: metrics, its own health, and a health probe of a tenant for
the App (only the router shares a network with tenants, so the App asks it).

Kept apart from traffic (kamal-proxy's rule): its own port, never published, and it answers no
peer inside the tenants' subnet pool. A probe dials only a tenant container's edge (name
`cial-tenant-*`, port 8080) and only its health path, so it cannot be turned on anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

_UPSTREAM = re.compile(r"^(cial-tenant-[a-z0-9-]{1,40}):8080$")
HEALTH_PATH = "/.cial/api/healthz"
_READ_LIMIT = 8192
_PROBE_TIMEOUT = 2.0


class ControlServer:
    def __init__(
        self, metrics: Callable[[], bytes], *, refused_networks: list[str], healthy: Callable[[], bool]
    ) -> None:
        self._metrics = metrics
        self._refused = [ipaddress.ip_network(n) for n in refused_networks]
        self._healthy = healthy
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port, limit=_READ_LIMIT)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _allowed(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return not any(address in network for network in self._refused)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            peer = (writer.get_extra_info("peername") or ("",))[0]
            if not self._allowed(str(peer)):
                return  # a tenant: closed without a word
            async with asyncio.timeout(5):
                head = await reader.readuntil(b"\r\n\r\n")
            method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
            target = rest.rsplit(" ", 1)[0]
            status, kind, body = await self._answer(method, target)
            writer.write(
                f"HTTP/1.1 {status} X\r\ncontent-type: {kind}\r\ncontent-length: {len(body)}\r\n"
                "connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError, ValueError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _answer(self, method: str, target: str) -> tuple[int, str, bytes]:
        if method != "GET":
            return 405, "text/plain", b"GET only\n"
        url = urlsplit(target)
        if url.path == "/metrics":
            return 200, "text/plain; version=0.0.4", self._metrics()
        if url.path == "/healthz":
            ok = self._healthy()
            return (200 if ok else 503), "text/plain", b"ok\n" if ok else b"routes not loaded\n"
        if url.path == "/probe":
            upstream = (parse_qs(url.query).get("upstream") or [""])[0]
            match = _UPSTREAM.match(upstream)
            if match is None:
                return 400, "text/plain", b"upstream must be cial-tenant-<slug>:8080\n"
            return await _probe(match.group(1))
        return 404, "text/plain", b"not found\n"


async def _probe(host: str) -> tuple[int, str, bytes]:
    """GET the tenant's health path; its status and body, or 502/504 when it does not answer."""
    try:
        async with asyncio.timeout(_PROBE_TIMEOUT):
            reader, writer = await asyncio.open_connection(host, 8080)
            try:
                writer.write(
                    f"GET {HEALTH_PATH} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
                )
                await writer.drain()
                raw = await reader.read(_READ_LIMIT)
            finally:
                writer.close()
    except TimeoutError:
        return 504, "text/plain", b"the tenant did not answer in time\n"
    except OSError as error:
        return 502, "text/plain", f"the tenant is not answering ({type(error).__name__})\n".encode()
    status_line, _, rest = raw.partition(b"\r\n")
    parts = status_line.split(b" ")
    if len(parts) < 2 or not parts[1].isdigit():
        return 502, "text/plain", b"the tenant answered something that is not HTTP\n"
    body = rest.partition(b"\r\n\r\n")[2]
    return int(parts[1]), "application/json", body
