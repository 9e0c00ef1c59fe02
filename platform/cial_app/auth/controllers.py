"""The auth routes, shaped like better-auth's under /api/auth. Thin: the service does the work."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import HeaderParameter, JSONBody

from cial_app.auth.cookies import SESSION_COOKIE, expired_session_cookie, session_cookie
from cial_app.auth.schemas import SessionEnvelope, SignInBody, SignOutOut, SignUpBody
from cial_app.auth.service import SignedIn
from cial_app.settings import Settings
from cial_app.web.deps import AppSettings, Auth, Current
from cial_app.web.guards import client_address
from cial_app.web.responses import error_responses

# Where an API client puts the setup token for the first sign-up (the admin's form has a field).
SETUP_TOKEN_HEADER = "X-Cial-Setup-Token"  # noqa: S105 (a header name, not a secret)


def signed_in_response(signed: SignedIn, settings: Settings) -> Response[SessionEnvelope]:
    cookie = session_cookie(signed.token, expires_at=signed.session.expires_at, secure=settings.cookie_secure)
    return Response(SessionEnvelope.of(signed), cookies=[cookie])


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post(
        "/sign-up/email",
        status_code=200,
        summary="Create the owner account (only while no user exists) and sign in",
        description="From another machine than the App's own (in compose: any client), the first sign-up "
        f"needs the setup token (CIAL_SETUP_TOKEN) in the {SETUP_TOKEN_HEADER} header.",
        responses=error_responses(400, 403, 415),
    )
    async def sign_up(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[SignUpBody],
        auth: Auth,
        settings: AppSettings,
        setup_token: Annotated[
            str | None,
            # Left out of the OpenAPI document (the route's description names it): a fuzzer's
            # invalid header values are refused by the HTTP server before the App, in a plain
            # text answer no schema of the App can describe.
            HeaderParameter(name=SETUP_TOKEN_HEADER, include_in_schema=False),
        ] = None,
    ) -> Response[SessionEnvelope]:
        signed = await auth.sign_up(
            name=data.name,
            email=data.email,
            password=data.password,
            client=client_address(request),
            setup_token=setup_token,
        )
        return signed_in_response(signed, settings)

    @post(
        "/sign-in/email",
        status_code=200,
        summary="Sign in with e-mail and password",
        responses=error_responses(400, 401, 403, 415, 429),
    )
    async def sign_in(
        self, request: Request[Any, Any, Any], data: JSONBody[SignInBody], auth: Auth, settings: AppSettings
    ) -> Response[SessionEnvelope]:
        signed = await auth.sign_in(email=data.email, password=data.password, client=client_address(request))
        return signed_in_response(signed, settings)

    @post("/sign-out", status_code=200, summary="End the current session", responses=error_responses(403))
    async def sign_out(
        self, request: Request[Any, Any, Any], auth: Auth, settings: AppSettings
    ) -> Response[SignOutOut]:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            await auth.sign_out(token)
        return Response(
            SignOutOut(success=True), cookies=[expired_session_cookie(secure=settings.cookie_secure)]
        )

    @get("/get-session", summary="The current session and user, or null when not signed in")
    async def get_session(self, current: Current) -> SessionEnvelope | None:
        return None if current is None else SessionEnvelope.of(current)
