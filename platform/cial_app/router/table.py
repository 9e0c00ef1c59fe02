"""Host -> tenant: pure, so every rule of which request goes where is tested without I/O.

A request is routed only to a tenant that is `running` and has an upstream; every other answer
is a refusal that says, in plain words, why (RFC 9110 §15.5.5 404 for a name nobody has, §15.6.4
503 with Retry-After for a tenant that is not serving now).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from cial_proxy import NoRoute, RouteError, Unavailable, Upstream

# The whole name must be one label under localhost: `acme.localhost`, never `a.b.localhost`.
_TENANT_HOST = re.compile(r"^([a-z0-9-]+)\.localhost$")
BARE_HOSTS = frozenset({"localhost"})
RETRY_AFTER_SECONDS = 5

_STATE_WORDS = {
    "provisioning": "is being created; try again in a few seconds",
    "starting": "is starting; try again in a few seconds",
    "stopping": "is stopping",
    "stopped": "is stopped; its owner can start it from the admin",
    "error": "is not serving because of an error; its owner can see why in the admin",
    "deleting": "is being deleted",
    "idling": "is being stopped for being idle",
    "idle": "is idle (stopped until the next request)",
}


@dataclass(frozen=True, slots=True)
class TenantRoute:
    slug: str
    state: str
    upstream_host: str | None = None
    upstream_port: int | None = None
    idle_after_seconds: int | None = None  # None: never stopped for being idle

    @property
    def serving(self) -> bool:
        return self.state == "running" and self.upstream_host is not None and self.upstream_port is not None


class Home(RouteError):
    """The bare router address: a small page that points to the admin, not an error."""

    status = 200


class BadHost(RouteError):
    status = 400


# Told of each change: the slug, or None when the whole table was replaced.
Listener = Callable[[str | None], None]


class RouteTable:
    def __init__(self, admin_url: str = "http://localhost:3100/admin") -> None:
        self._routes: dict[str, TenantRoute] = {}
        self._admin_url = admin_url
        self._listeners: list[Listener] = []
        self.loaded = False

    def __len__(self) -> int:
        return len(self._routes)

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def replace_all(self, routes: list[TenantRoute]) -> None:
        self._routes = {route.slug: route for route in routes}
        self.loaded = True
        self._tell(None)

    def put(self, route: TenantRoute) -> None:
        self._routes[route.slug] = route
        self._tell(route.slug)

    def remove(self, slug: str) -> None:
        self._routes.pop(slug, None)
        self._tell(slug)

    def get(self, slug: str) -> TenantRoute | None:
        return self._routes.get(slug)

    def routes(self) -> list[TenantRoute]:
        return list(self._routes.values())

    def _tell(self, slug: str | None) -> None:
        for listener in self._listeners:
            listener(slug)

    def resolve(self, host: str, path: str) -> Upstream:
        """Where a request for `host` (lower case, no port) goes, or the refusal to send."""
        return self.upstream_of(self.route_of(host), path)

    def route_of(self, host: str) -> TenantRoute:
        """The route of the tenant `host` names, or the refusal (404, 400, the bare address)."""
        if host in BARE_HOSTS:
            raise Home(
                f"This is Cial's router. Tenants answer at http://{{slug}}.localhost:8080; "
                f"the admin is at {self._admin_url}"
            )
        if not host:
            raise BadHost("The request has no Host header; ask for http://{slug}.localhost:8080")
        match = _TENANT_HOST.match(host)
        if match is None:
            raise NoRoute(f"No tenant answers at {host!r}: tenants are at {{slug}}.localhost")
        slug = match.group(1)
        route = self._routes.get(slug)
        if route is None:
            raise NoRoute(f"No tenant is called {slug!r}.")
        return route

    def upstream_of(self, route: TenantRoute, path: str) -> Upstream:
        """Where the route sends, or why not now (503 with Retry-After)."""
        slug = route.slug
        if not route.serving:
            words = _STATE_WORDS.get(route.state, f"is {route.state}")
            raise Unavailable(f"Tenant {slug!r} {words}.", retry_after=RETRY_AFTER_SECONDS)
        assert route.upstream_host is not None and route.upstream_port is not None
        return Upstream(slug, route.upstream_host, route.upstream_port, path)
