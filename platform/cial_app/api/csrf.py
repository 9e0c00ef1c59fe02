"""Cross-site request forgery defence, in two layers.

1. Every unsafe request (POST, PUT, PATCH, DELETE) that a browser marks as coming from another
   site is refused: `Sec-Fetch-Site` when the browser sends it, else `Origin` against `Host`.
   `same-site` is refused too: every tenant lives on a `*.localhost` host, i.e. the same site
   as the App, and tenants are not trusted.
2. A form body (urlencoded) must carry a token bound to the session cookie, or before sign-in
   to a random `cial_csrf` cookie. A request with neither `Origin` nor `Sec-Fetch-Site` is not
   from a browser page; with a JSON body it is served, so the API stays scriptable. Browsers
   cannot send JSON to another origin without a CORS preflight, which the App never grants.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, Headers
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send
from litestar.types.asgi_types import HTTPDisconnectEvent, HTTPRequestEvent

from cial_app.auth.cookies import SESSION_COOKIE
from cial_app.errors import AppError, CrossSiteRequest, CsrfTokenInvalid, UnsupportedMediaType

CSRF_COOKIE = "cial_csrf"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Bodies a cross-site <form> can send without a preflight.
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})
MAX_FORM_BYTES = 64 * 1024
_CROSS_SITE = frozenset({"cross-site", "same-site"})


class FormTooLarge(AppError):
    status = 413
    code = "form_too_large"


def check_origin(headers: Headers, trusted_origins: Iterable[str] = ()) -> None:
    """Raise CrossSiteRequest when the browser says the request comes from another site."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        if fetch_site.lower() in _CROSS_SITE:
            raise CrossSiteRequest("Refused: this request came from another site.")
        return
    origin = headers.get("origin")
    if origin is None:
        return
    origin = origin.strip().rstrip("/").lower()
    if origin in trusted_origins:
        return
    host = (headers.get("host") or "").strip().lower()
    # Scheme is left out: one host:port cannot serve both http and https, and a TLS terminator
    # in front of the App would otherwise make every same-origin request look foreign.
    if origin == "null" or not host or urlsplit(origin).netloc != host:
        raise CrossSiteRequest("Refused: the request's Origin does not match this site.")


def form_token(secret: str) -> str:
    return hmac.new(secret.encode(), b"cial-app form", hashlib.sha256).hexdigest()


def token_secret(cookies: Mapping[str, str]) -> str | None:
    """What a form token is bound to: the session when signed in, else the pre-session cookie."""
    return cookies.get(SESSION_COOKIE) or cookies.get(CSRF_COOKIE) or None


def issue_form_token(cookies: Mapping[str, str], *, secure: bool) -> tuple[str, Cookie | None]:
    """The token to embed in a page's forms, and the cookie to set when the token needs one."""
    secret = token_secret(cookies)
    if secret is not None:
        return form_token(secret), None
    nonce = secrets.token_urlsafe(32)
    cookie = Cookie(key=CSRF_COOKIE, value=nonce, path="/", httponly=True, samesite="strict", secure=secure)
    return form_token(nonce), cookie


def check_form_token(cookies: Mapping[str, str], submitted: str | None) -> None:
    secret = token_secret(cookies)
    if secret is None or not submitted or not hmac.compare_digest(form_token(secret), submitted):
        raise CsrfTokenInvalid()


class CsrfMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(self, trusted_origins: frozenset[str] = frozenset()) -> None:
        self.trusted_origins = trusted_origins

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope["method"] not in UNSAFE_METHODS:  # type: ignore[typeddict-item]
            await next_app(scope, receive, send)
            return
        headers = Headers.from_scope(scope)
        check_origin(headers, self.trusted_origins)
        media_type = (headers.get("content-type") or "").split(";", 1)[0].strip().lower()
        if media_type not in FORM_TYPES:
            await next_app(scope, receive, send)
            return
        if media_type != "application/x-www-form-urlencoded":
            raise UnsupportedMediaType("Send JSON to the API, or an urlencoded form from the admin pages.")
        body = await _read_body(receive)
        fields = parse_qs(body.decode("latin-1"), keep_blank_values=True)
        submitted = fields.get(CSRF_FIELD, [])
        check_form_token(
            ASGIConnection[Any, Any, Any, Any](scope).cookies, submitted[0] if submitted else None
        )
        await next_app(scope, _replay(body), send)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise FormTooLarge(f"The form is larger than {MAX_FORM_BYTES // 1024} KiB.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> ReceiveMessage:
        nonlocal sent
        if sent:
            return HTTPDisconnectEvent(type="http.disconnect")
        sent = True
        return HTTPRequestEvent(type="http.request", body=body, more_body=False)

    return receive
