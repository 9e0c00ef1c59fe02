"""The admin's sign-up, sign-in and sign-out pages: the only admin pages open without a session.
Forms post back here and are handled by the same service as the JSON API."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromQuery

from cial_app.admin.pages import HOME, LOGIN, AnyRequest, form_fields, page, refused, see_other
from cial_app.auth.cookies import SESSION_COOKIE, expired_session_cookie, session_cookie
from cial_app.auth.service import SignedIn
from cial_app.errors import AppError, SignUpClosed
from cial_app.settings import Settings
from cial_app.web.deps import AppSettings, Auth, Current
from cial_app.web.guards import client_address

# The sign-up form's field for the setup token (hidden when it came in the link's ?setup=).
SETUP_FIELD = "setup_token"
# The sign-up page may carry the setup token in its URL: it is sent nowhere else (no Referer) and
# kept in no cache.
SETUP_PAGE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def signed_in_redirect(signed: SignedIn, settings: Settings) -> Response[Any]:
    cookie = session_cookie(signed.token, expires_at=signed.session.expires_at, secure=settings.cookie_secure)
    return see_other(HOME, cookies=[cookie])


class SignInPages(Controller):
    path = HOME
    include_in_schema = False

    @get("/signup")
    async def signup_form(
        self, request: AnyRequest, auth: Auth, settings: AppSettings, setup: FromQuery[str | None] = None
    ) -> Response[Any]:
        """`?setup=<token>` is the link `make local-up` prints: the token rides along in the form."""
        if not await auth.sign_up_open():
            return see_other(LOGIN)
        return page(
            request, settings, "signup.html", headers=SETUP_PAGE_HEADERS, setup_token=setup or "",
            ask_setup_token=auth.needs_setup_token(client_address(request)) and not setup,
        )  # fmt: skip

    @post("/signup", status_code=303)
    async def signup(self, request: AnyRequest, auth: Auth, settings: AppSettings) -> Response[Any]:
        values = await form_fields(request, "name", "email", "password", SETUP_FIELD)
        try:
            signed = await auth.sign_up(
                name=values["name"], email=values["email"], password=values["password"],
                client=client_address(request), setup_token=values[SETUP_FIELD] or None,
            )  # fmt: skip
        except SignUpClosed as error:
            return page(
                request, settings, "signup.html", status=error.status, closed=True, form_error=error.message
            )
        except AppError as error:
            errors, form_error = refused(error)
            kept = {"name": values["name"], "email": values["email"]}
            # A refused token is asked for again in a field of its own; a good one rides along.
            refused_token = error.field == SETUP_FIELD
            return page(
                request, settings, "signup.html", status=error.status, headers=SETUP_PAGE_HEADERS,
                values=kept, errors=errors, form_error=form_error,
                setup_token="" if refused_token else values[SETUP_FIELD],
                ask_setup_token=refused_token or (
                    auth.needs_setup_token(client_address(request)) and not values[SETUP_FIELD]
                ),
            )  # fmt: skip
        return signed_in_redirect(signed, settings)

    @get("/login")
    async def login_form(
        self, request: AnyRequest, current: Current, auth: Auth, settings: AppSettings
    ) -> Response[Any]:
        if current is not None:
            return see_other(HOME)
        return page(request, settings, "login.html", sign_up_open=await auth.sign_up_open())

    @post("/login", status_code=303)
    async def login(self, request: AnyRequest, auth: Auth, settings: AppSettings) -> Response[Any]:
        values = await form_fields(request, "email", "password")
        try:
            signed = await auth.sign_in(
                email=values["email"], password=values["password"], client=client_address(request)
            )
        except AppError as error:
            errors, form_error = refused(error)
            return page(
                request, settings, "login.html", status=error.status, headers=error.headers,
                values={"email": values["email"]}, errors=errors, form_error=form_error,
                sign_up_open=await auth.sign_up_open(),
            )  # fmt: skip
        return signed_in_redirect(signed, settings)

    @post("/logout", status_code=303)
    async def logout(self, request: AnyRequest, auth: Auth, settings: AppSettings) -> Response[Any]:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            await auth.sign_out(token)
        return see_other(LOGIN, cookies=[expired_session_cookie(secure=settings.cookie_secure)])
