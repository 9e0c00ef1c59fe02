"""Who is asking: the session behind the request's cookie, and guards that raise when it won't do.

`owner_only` guards a whole controller (every route of the tenants API and of the admin's tenant
pages): a route added later is guarded by construction. The session it found is kept on the
request, so the `owner` and `current` dependencies do not look it up a second time.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from cial_app.auth.cookies import SESSION_COOKIE
from cial_app.auth.service import AuthService, CurrentSession
from cial_app.errors import Forbidden, NotAuthenticated
from cial_app.web.deps import Auth, Current

_STATE_KEY = "cial_session"
# A route's `opt` flag: browsers navigate to it (a link, not a fetch), so a browser without a
# session is sent to the sign-in page instead of shown a 401 (API clients still get the 401).
BROWSER_NAVIGATES_HERE = "browser_navigates_here"
_UNSET = object()


AnyConnection = ASGIConnection[Any, Any, Any, Any]


async def _session(connection: AnyConnection, auth: AuthService) -> CurrentSession | None:
    cached: CurrentSession | object | None = connection.state.get(_STATE_KEY, _UNSET)
    if cached is not _UNSET:
        assert cached is None or isinstance(cached, CurrentSession)
        return cached
    current = await auth.current(connection.cookies.get(SESSION_COOKIE))
    connection.state[_STATE_KEY] = current
    return current


async def current_session(request: Request[Any, Any, Any], auth: Auth) -> CurrentSession | None:
    return await _session(request, auth)


def require_owner(current: Current) -> CurrentSession:
    if current is None:
        raise NotAuthenticated("Sign in as the owner to do this.")
    if not current.user.is_owner:
        raise Forbidden("Only the owner may do this.")
    return current


async def owner_only(connection: AnyConnection, _: BaseRouteHandler) -> None:
    """A Litestar guard: 401 without a session, 403 for anyone but the owner (the admin pages
    turn the 401 into a redirect to their sign-in page)."""
    auth: AuthService = connection.app.state.services.auth
    require_owner(await _session(connection, auth))


def client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"
