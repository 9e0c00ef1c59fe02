"""The one reverse-proxy engine: the tenant's edge (path -> service) and the platform's router
(host -> tenant) are both a :class:`Resolver` on it.

    proxy = create_proxy(MyResolver(), name="edge")
    serve(proxy, host="0.0.0.0", port=8080)          # a process, until SIGTERM

    async with proxy.running(port=0) as port: ...    # in-process (tests)
"""

from __future__ import annotations

from ._headers import cookie_value, without_cookies
from ._logging import redact_query_strings
from ._serve import GRACEFUL_SHUTDOWN_SECONDS, Proxy, create_proxy, new_event_loop, serve
from ._types import Observer, Options
from .routes import (
    Forbidden,
    NoRoute,
    RequestHeaders,
    RequestHook,
    Resolver,
    RouteError,
    Unavailable,
    Upstream,
)

__all__ = [
    "GRACEFUL_SHUTDOWN_SECONDS",
    "Forbidden",
    "NoRoute",
    "Observer",
    "Options",
    "Proxy",
    "RequestHeaders",
    "RequestHook",
    "Resolver",
    "RouteError",
    "Unavailable",
    "Upstream",
    "cookie_value",
    "create_proxy",
    "new_event_loop",
    "redact_query_strings",
    "serve",
    "without_cookies",
]
