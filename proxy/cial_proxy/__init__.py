"""The one reverse-proxy engine: the tenant's edge (path -> service) and the platform's router
(host -> tenant) are both a :class:`Resolver` on it.

    app = create_proxy(MyResolver(), name="edge")
    serve(app, host="0.0.0.0", port=8080)
"""

from __future__ import annotations

from ._app import create_proxy
from ._serve import serve, server_config
from ._types import ASGIApp
from .routes import NoRoute, Resolver, RouteError, Unavailable, Upstream

__all__ = [
    "ASGIApp",
    "NoRoute",
    "Resolver",
    "RouteError",
    "Unavailable",
    "Upstream",
    "create_proxy",
    "serve",
    "server_config",
]
