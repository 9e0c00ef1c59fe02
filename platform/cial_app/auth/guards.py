"""Who is asking: the session behind the request's cookie, and guards that raise when it won't do.

Used as Litestar dependencies: a handler that takes `owner: CurrentSession` is refused with 401
unless the owner is signed in.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from cial_app.api.deps import Auth, Current
from cial_app.auth.cookies import SESSION_COOKIE
from cial_app.auth.service import CurrentSession
from cial_app.errors import Forbidden, NotAuthenticated


async def current_session(request: Request[Any, Any, Any], auth: Auth) -> CurrentSession | None:
    return await auth.current(request.cookies.get(SESSION_COOKIE))


def require_owner(current: Current) -> CurrentSession:
    if current is None:
        raise NotAuthenticated("Sign in as the owner to do this.")
    if not current.user.is_owner:
        raise Forbidden("Only the owner may do this.")
    return current


def client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"
