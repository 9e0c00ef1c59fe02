"""The admin's sign-up, sign-in and sign-out pages: the only admin pages open without a session.
Forms post back here and are handled by the same service as the JSON API."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post

from cial_app.admin.pages import HOME, LOGIN, AnyRequest, form_fields, page, refused, see_other
from cial_app.auth.cookies import SESSION_COOKIE, expired_session_cookie, session_cookie
from cial_app.auth.service import SignedIn
from cial_app.errors import AppError, SignUpClosed
from cial_app.settings import Settings
from cial_app.web.deps import AppSettings, Auth, Current
from cial_app.web.guards import client_address


def signed_in_redirect(signed: SignedIn, settings: Settings) -> Response[Any]:
    cookie = session_cookie(signed.token, expires_at=signed.session.expires_at, secure=settings.cookie_secure)
    return see_other(HOME, cookies=[cookie])


class SignInPages(Controller):
    path = HOME
    include_in_schema = False

    @get("/signup")
    async def signup_form(self, request: AnyRequest, auth: Auth, settings: AppSettings) -> Response[Any]:
        if not await auth.sign_up_open():
            return see_other(LOGIN)
        return page(request, settings, "signup.html")

    @post("/signup", status_code=303)
    async def signup(self, request: AnyRequest, auth: Auth, settings: AppSettings) -> Response[Any]:
        values = await form_fields(request, "name", "email", "password")
        try:
            signed = await auth.sign_up(
                name=values["name"], email=values["email"], password=values["password"]
            )
        except SignUpClosed as error:
            return page(
                request, settings, "signup.html", status=error.status, closed=True, form_error=error.message
            )
        except AppError as error:
            errors, form_error = refused(error)
            kept = {"name": values["name"], "email": values["email"]}
            return page(
                request, settings, "signup.html", status=error.status, values=kept, errors=errors,
                form_error=form_error,
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
