"""Core back's sign-in routes (the edge maps ``/.cial/sso`` and ``/.cial/sign-out`` here).

- ``GET /sso?token=``: a verified, unspent token opens a session: ``303`` to ``/`` with Core's
  cookie. Anything else: ``401``, an HTML page saying why, a link back to the admin, no cookie.
  Both with ``Referrer-Policy: no-referrer`` (the token is in this URL: the next page must not
  send it on) and ``Cache-Control: no-store``.
- ``POST /sign-out``: the session's row is deleted, the cookie cleared, ``303`` to ``/``.

The cookie is exactly the contract's: ``HttpOnly`` (agent script on the same origin cannot read
it), ``SameSite=Lax``, ``Path=/``, host-only (no ``Domain``: one tenant never gets another's),
8 hours. The handlers run in worker threads: a sign-in commits with an fsync.
"""

from __future__ import annotations

import logging
import secrets
from html import escape
from typing import Any

from litestar import Request, Response, get, post
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_401_UNAUTHORIZED, HTTP_503_SERVICE_UNAVAILABLE

from cial_core.back.sso import Refused, TokenVerifier
from cial_core.sessions import SESSION_SECONDS, Identity, SignInStore, SignInStoreError, TokenAlreadyUsed

SESSION_COOKIE = "cial_core_session"
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
ALREADY_USED = "This sign-in link was already used. Open the tenant again from the admin."

_log = logging.getLogger("cial_core.signin")


def session_cookie(session_id: str) -> str:
    return f"{SESSION_COOKIE}={session_id}; HttpOnly; SameSite=Lax; Path=/; Max-Age={SESSION_SECONDS}"


def cleared_cookie() -> str:
    return f"{SESSION_COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0"


def _verifier(request: Request[Any, Any, Any]) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.sso_verifier
    return verifier


def _store(request: Request[Any, Any, Any]) -> SignInStore:
    store: SignInStore = request.app.state.sign_in
    return store


def _redirect_home(cookie: str) -> Response[bytes]:
    headers = {**NO_STORE, "Location": "/", "Set-Cookie": cookie}
    return Response(b"", status_code=HTTP_303_SEE_OTHER, headers=headers, media_type="text/plain")


def refusal_page(reason: str, admin_url: str, status: int = HTTP_401_UNAUTHORIZED) -> Response[str]:
    body = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Sign-in refused · Cial</title></head>\n"
        f"<body><h1>Sign-in refused</h1><p>{escape(reason)}</p>"
        f'<p><a href="{escape(admin_url, quote=True)}">Back to the Cial admin</a></p></body></html>\n'
    )
    return Response(body, status_code=status, headers=NO_STORE, media_type="text/html")


@get("/sso", sync_to_thread=True)
def sign_in(request: Request[Any, Any, Any]) -> Response[Any]:
    verifier = _verifier(request)
    admin_url = verifier.settings.admin_url
    try:
        grant = verifier.verify(request.query_params.get("token"))
        session_id = secrets.token_urlsafe(32)
        _store(request).open_session(
            jti=grant.jti,
            keep_until=grant.keep_until,
            identity=Identity(grant.user_id, grant.email, grant.role),
            session_id=session_id,
        )
    except Refused as refused:
        _log.info("sign-in refused: %s", refused.reason)
        return refusal_page(refused.reason, admin_url)
    except TokenAlreadyUsed:
        _log.info("sign-in refused: a token was presented again")
        return refusal_page(ALREADY_USED, admin_url)
    except SignInStoreError as error:
        _log.error("sign-in failed: %s", error)
        return refusal_page(
            "Sign-in is not possible right now: the tenant cannot write its sign-in records.",
            admin_url,
            HTTP_503_SERVICE_UNAVAILABLE,
        )
    _log.info("signed in: user %s (%s)", grant.user_id, grant.role)
    return _redirect_home(session_cookie(session_id))


@post("/sign-out", sync_to_thread=True)
def sign_out(request: Request[Any, Any, Any]) -> Response[Any]:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        try:
            _store(request).close_session(session_id)
        except SignInStoreError as error:
            _log.error("sign-out failed: %s", error)
            return refusal_page(
                "Signing out is not possible right now: the tenant cannot write its sign-in records.",
                _verifier(request).settings.admin_url,
                HTTP_503_SERVICE_UNAVAILABLE,
            )
    return _redirect_home(cleared_cookie())
