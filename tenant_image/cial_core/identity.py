"""What the edge does to each request's headers: identity comes from the edge and nowhere else.

On every route, every ``X-Cial-*`` header a client sent is removed: only the edge writes them.
On the platform's route (agent code, hostile by assumption):

- Core's session cookie is taken out of ``Cookie`` (the platform's own cookies stay), so agent
  code never holds it; if it names a live session, ``X-Cial-User-Id``, ``-Email`` and ``-Role``
  are added, from the session as core back stored it;
- a ``Service-Worker: script`` request is refused (403): a service worker registered by agent
  script would control the whole origin, Core's ``/.cial/*`` pages included, and could read the
  sign-in URL with its token (the Service Workers spec sends this header on every script fetch
  for a registration or an update).

Core's own routes keep the cookie (core back reads it to sign out) and get no identity headers.
"""

from __future__ import annotations

from cial_proxy import Forbidden, RequestHeaders, Upstream, cookie_value, without_cookies

from cial_core.sessions import SessionReader

SESSION_COOKIE = b"cial_core_session"
IDENTITY_PREFIX = b"x-cial-"
PLATFORM_UPSTREAM = "platform-front"
_SESSION_COOKIE_ONLY = frozenset({SESSION_COOKIE})


class EdgeIdentity:
    """The edge's :class:`cial_proxy.RequestHook`.

    The session lookup is a synchronous SQLite read on the event loop, done only for a platform
    request that carries Core's cookie; it is a primary-key read from a small file in the page
    cache (``bench/sso_verify.py`` measures it), cheaper than handing it to a thread would be.
    """

    def __init__(self, sessions: SessionReader, platform: str = PLATFORM_UPSTREAM) -> None:
        self._sessions = sessions
        self._platform = platform

    async def __call__(self, upstream: Upstream, headers: RequestHeaders) -> RequestHeaders:
        return self.rewrite(upstream, headers)

    def rewrite(self, upstream: Upstream, headers: RequestHeaders) -> RequestHeaders:
        platform = upstream.name == self._platform
        out: RequestHeaders = []
        session: bytes | None = None
        for name, value in headers:
            if name.startswith(IDENTITY_PREFIX):
                continue
            if platform:
                if name == b"service-worker" and value.strip().lower() == b"script":
                    raise Forbidden("a service worker cannot be registered on this tenant's origin")
                if name == b"cookie" and SESSION_COOKIE in value:
                    if session is None:
                        session = cookie_value(value, SESSION_COOKIE)
                    value = without_cookies(value, _SESSION_COOKIE_ONLY)
                    if not value:
                        continue
            out.append((name, value))
        if session:
            identity = self._sessions.lookup(session.decode("latin-1"))
            if identity is not None:
                out += [
                    (b"x-cial-user-id", identity.user_id.encode("latin-1")),
                    (b"x-cial-user-email", identity.email.encode("latin-1")),
                    (b"x-cial-user-role", identity.role.encode("latin-1")),
                ]
        return out
