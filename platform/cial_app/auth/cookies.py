"""The session cookie: HttpOnly, SameSite=Lax, Path=/, with an expiry the browser enforces too."""

from __future__ import annotations

from datetime import datetime

from litestar.datastructures import Cookie

from cial_app.db import utcnow

SESSION_COOKIE = "cial_session"


def session_cookie(token: str, *, expires_at: datetime, secure: bool) -> Cookie:
    lifetime = max(0, int((expires_at - utcnow()).total_seconds()))
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        path="/",
        max_age=lifetime,
        expires=lifetime,
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def expired_session_cookie(*, secure: bool) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value="",
        path="/",
        max_age=0,
        expires=0,
        httponly=True,
        samesite="lax",
        secure=secure,
    )
