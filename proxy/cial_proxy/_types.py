"""The shapes the engine's parts share: headers, options, and the observer hook."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .routes import RequestHook

RawHeaders = list[tuple[bytes, bytes]]

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Options:
    """How one proxy behaves; see :func:`cial_proxy.create_proxy` for what each option means."""

    name: str = "proxy"
    trust_forwarded: bool = False
    strip_cookies: frozenset[bytes] = frozenset()
    request_hook: RequestHook | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    header_timeout: float = 5.0
    idle_timeout: float = 15.0
    max_connections: int = 1024
    # Autobahn's largest case (9.x.6) is one 16 MiB message, the same ceiling uvicorn puts on the
    # services behind the edge; the proxy never holds a message, so this protects what is behind it.
    max_message_size: int = 16 * MIB
    websocket_ping_interval: float | None = None
    websocket_ping_timeout: float = 20.0
    pool_idle_per_upstream: int = 64
    pool_idle_seconds: float = 4.0


class Observer(Protocol):
    """Told about traffic as it passes, e.g. to keep Prometheus metrics (the engine imports none).

    Called on the event loop: each call must return at once and must not raise.
    ``upstream`` is the resolved upstream's name, or ``"-"`` when the request was refused.
    ``websocket_closed`` comes once for each ``websocket_opened`` however the tunnel ends (either
    side, the size cap, an unanswered ping, :meth:`Proxy.close_websockets`), before the upgrade
    request's ``request_finished``: a count of open tunnels can rely on it.
    """

    def request_started(self, upstream: str, method: str) -> None: ...

    def request_finished(self, upstream: str, method: str, status: int, seconds: float) -> None: ...

    def websocket_opened(self, upstream: str) -> None: ...

    def websocket_closed(self, upstream: str, seconds: float) -> None: ...
