"""The tenant's edge: the only process on the public port, routing by path to the services.

``/.cial/sso`` and ``/.cial/sign-out`` (exactly) go to core back as ``/sso`` and ``/sign-out``;
``/.cial/api`` and below go to core back with that prefix stripped (the back's routes are
``/healthz``, ``/visits``, ...); ``/.cial`` and below go to core front, which serves under the base
path ``/.cial`` and so sees the path unchanged; everything else is the tenant's own platform
front. Platform back is internal: no path leads to it. Prefixes match whole segments, so
``/.cialx`` is the platform's.

Core's services are dialled on their unix sockets (``agent`` cannot reach them), the platform on
its loopback port. Each request's headers pass :class:`cial_core.identity.EdgeIdentity` first.
While the tenant starts, requests wait at :class:`cial_core.start_gate.StartGate`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from cial_proxy import Unavailable, Upstream, create_proxy, serve

from cial_core.identity import EdgeIdentity
from cial_core.readiness import Readiness
from cial_core.services import (
    CORE_BACK_SOCKET,
    CORE_FRONT_SOCKET,
    EDGE_PORT,
    PLATFORM_BACK_PORT,
    PLATFORM_FRONT_PORT,
)
from cial_core.sessions import SessionReader
from cial_core.start_gate import StartGate

LOOPBACK = "127.0.0.1"
API_PREFIX = "/.cial/api"
CORE_PREFIX = "/.cial"
# Core back's sign-in routes, reached from outside under Core's prefix (docs/sso-contract.md).
CORE_BACK_EXACT = {"/.cial/sso": "/sso", "/.cial/sign-out": "/sign-out"}
DATA_DIR_VARIABLE = "CIAL_DATA_DIR"
DEFAULT_DATA_DIR = "/var/lib/cial"
# Every service of the tenant, as the start gate waits for them.
SERVICES: dict[str, int | str] = {
    "core-back": CORE_BACK_SOCKET,
    "core-front": CORE_FRONT_SOCKET,
    "platform-front": PLATFORM_FRONT_PORT,
    "platform-back": PLATFORM_BACK_PORT,
}
# How long one request waits at the start gate before it is told to come back (503).
HOLD_SECONDS = 10.0


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def route(path: str) -> Upstream:
    """Where a request for ``path`` goes inside the container, and the path that service sees."""
    exact = CORE_BACK_EXACT.get(path)
    if exact is not None:
        return Upstream.unix("core-back", CORE_BACK_SOCKET, exact)
    if _under(path, API_PREFIX):
        return Upstream.unix("core-back", CORE_BACK_SOCKET, path[len(API_PREFIX) :] or "/")
    if _under(path, CORE_PREFIX):
        return Upstream.unix("core-front", CORE_FRONT_SOCKET, path)
    return Upstream("platform-front", LOOPBACK, PLATFORM_FRONT_PORT, path)


class EdgeResolver:
    """The edge's :class:`cial_proxy.routes.Resolver`: the host does not matter inside a tenant;
    until the tenant has started, a request waits at the gate first."""

    def __init__(self, gate: StartGate | None = None) -> None:
        self._gate = gate

    async def resolve(self, host: str, path: str) -> Upstream:
        gate = self._gate
        if gate is not None and not gate.is_open and not await gate.passed(HOLD_SECONDS):
            raise Unavailable("the tenant is still starting", retry_after=1)
        return route(path)


def prepare() -> Callable[[], None]:
    """Called by the supervisor before it forks; the child runs what this returns.

    ``trust_forwarded``: in front of the edge is the router, which sets X-Forwarded-For/-Host/-Proto
    itself and replaces any a client sent; the edge keeps its values so the services see the
    public host and the client's address, not the router's.
    """
    sessions = SessionReader(Path(os.environ.get(DATA_DIR_VARIABLE, DEFAULT_DATA_DIR)))
    gate = StartGate(Readiness(SERVICES))
    proxy = create_proxy(
        EdgeResolver(gate), name="edge", trust_forwarded=True, request_hook=EdgeIdentity(sessions)
    )
    return lambda: serve(proxy, host="0.0.0.0", port=EDGE_PORT)


def main() -> None:
    prepare()()


if __name__ == "__main__":
    main()
