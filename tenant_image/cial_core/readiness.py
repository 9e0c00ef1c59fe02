"""Whether the whole tenant serves yet: its services, each seen listening once.

Two users: core back's health (what orchestrators and Docker wait on before they send a user to
the tenant, so it must not say "ok" while the platform front is still starting) and the edge's
start gate (which holds requests until then, so nobody sees a 502 from a service still starting).
Each service only has to be seen listening once: a service that dies later takes the whole
container down (the supervisor), so after start-up there is nothing left to watch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

CONNECT_TIMEOUT_SECONDS = 1.0


class Readiness:
    """``services``: name -> where it listens, a loopback port or the path of a unix socket."""

    def __init__(self, services: Mapping[str, int | str], host: str = "127.0.0.1") -> None:
        self._host = host
        self._waiting = dict(services)

    async def waiting_for(self) -> list[str]:
        """The services not seen listening yet, sorted; empty once the tenant is ready."""
        if self._waiting:
            names = list(self._waiting)
            up = await asyncio.gather(*(self._listening(self._waiting[name]) for name in names))
            for name, listening in zip(names, up, strict=True):
                if listening:
                    del self._waiting[name]
        return sorted(self._waiting)

    async def _listening(self, address: int | str) -> bool:
        connecting = (
            asyncio.open_unix_connection(address)
            if isinstance(address, str)
            else asyncio.open_connection(self._host, address)
        )
        try:
            _, writer = await asyncio.wait_for(connecting, timeout=CONNECT_TIMEOUT_SECONDS)
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True
