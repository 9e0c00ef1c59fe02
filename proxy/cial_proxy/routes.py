"""What a proxy needs to know about where a request goes, and the refusals it can meet.

A resolver maps the head of a request (host and path) to an :class:`Upstream`, or raises a
:class:`RouteError` that carries the status and the message the client should see. The engine
never decides routes itself, so the edge (path → service) and the router (host → tenant) are
two resolvers on one engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

RequestHeaders = list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class Upstream:
    """One place to forward to. ``path`` is what the upstream sees (already rewritten).

    ``socket``, when set, is the path of a unix socket the upstream listens on; ``host`` and
    ``port`` then only name it in the Host header (see :meth:`unix`). A unix socket can be closed
    to other local users by its directory's permissions, which a loopback port cannot.
    """

    name: str
    host: str
    port: int
    path: str
    socket: str | None = None

    @classmethod
    def unix(cls, name: str, socket: str, path: str) -> Upstream:
        """An upstream on the unix socket ``socket``; it sees ``Host: localhost``."""
        return cls(name, "localhost", 0, path, socket)

    @property
    def address(self) -> tuple[str, int] | str:
        """What the connection pool dials and keys its idle connections by."""
        return self.socket if self.socket is not None else (self.host, self.port)


class RouteError(Exception):
    """A request the proxy refuses before any upstream is contacted.

    ``headers`` are added to the refusal as they are (e.g. ``Retry-After``); they must not be
    framing headers, which the engine writes itself.
    """

    status: int = 404

    def __init__(self, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})


class NoRoute(RouteError):
    """Nothing serves this host or path (404)."""

    status = 404


class Forbidden(RouteError):
    """The proxy will not forward this request, whoever asks (403), e.g. a service-worker script
    fetch on an origin whose scripts the proxy's owner does not control."""

    status = 403


class Unavailable(RouteError):
    """Something would serve it, but not now (503), e.g. a tenant that is not running.

    ``retry_after`` (seconds) becomes a ``Retry-After`` header (RFC 9110 §10.2.3).
    """

    status = 503

    def __init__(
        self, message: str, *, retry_after: int | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = str(int(retry_after))
        super().__init__(message, headers=extra)


class Resolver(Protocol):
    async def resolve(self, host: str, path: str) -> Upstream:
        """Return where ``host`` + ``path`` goes, or raise a :class:`RouteError`.

        ``host`` is the Host header without its port, in lower case. ``path`` is the request path
        as the client sent it (percent-encoding intact, dot segments removed, never the query
        string); returning it unchanged as ``Upstream.path`` forwards the request exactly.
        """
        ...


class RequestHook(Protocol):
    """Called once per request after the resolver, before anything is sent upstream.

    Returns the request headers the upstream should get (names are lower case, as the engine
    parsed them), or raises a :class:`RouteError` to refuse. The engine still removes hop-by-hop,
    framing and forwarding headers afterwards, so a hook cannot change how a message is framed.
    Runs on the event loop for every request of its proxy: it must be quick. A proxy without a
    hook (the router) pays nothing for this.
    """

    async def __call__(self, upstream: Upstream, headers: RequestHeaders) -> RequestHeaders: ...
