"""Admin pages. Forms post back here and are handled by the same services as the JSON API;
a refused input re-renders the page with the message next to its field and the values kept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from cial_app.api.csrf import issue_form_token
from cial_app.api.deps import AppSettings, Auth, Current, TenantLifecycle, Tenants
from cial_app.auth.cookies import SESSION_COOKIE, expired_session_cookie, session_cookie
from cial_app.auth.guards import client_address
from cial_app.auth.service import SignedIn
from cial_app.errors import AppError, InvalidInput, SignUpClosed
from cial_app.provisioning import Lifecycle, Verb, decide
from cial_app.settings import Settings
from cial_app.tenants.rules import could_be_slug
from cial_app.tenants.service import TenantService
from cial_app.tenants.states import TenantState

AnyRequest = Request[Any, Any, Any]
HOME = "/admin"
LOGIN = "/admin/login"
SIGNUP = "/admin/signup"
LOG_LINES = 60
_DONE = {
    Verb.START: "Starting: the page follows its state.",
    Verb.STOP: "Stopping: its data stays in its volume.",
    Verb.RESTART: "Restarting.",
    Verb.DELETE: "Deletion under way: the App finishes it as soon as the engine lets it.",
}
_NOTHING_TO_DO = "Nothing to do: the tenant already is, or is on its way to, what was asked."


def page(
    request: AnyRequest,
    settings: Settings,
    template: str,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> Response[Any]:
    token, cookie = issue_form_token(request.cookies, secure=settings.cookie_secure)
    return Template(
        template_name=template,
        context={"csrf_token": token, "errors": {}, "values": {}, **context},
        status_code=status,
        headers=dict(headers or {}),
        cookies=[cookie] if cookie else [],
        media_type=MediaType.HTML,
    )  # type: ignore[return-value]


def see_other(path: str, **kwargs: Any) -> Response[Any]:
    # 303: after a form POST the browser follows with a GET, so a reload never re-submits.
    return Redirect(path, status_code=303, **kwargs)  # type: ignore[return-value]


def signed_in_redirect(signed: SignedIn, settings: Settings) -> Response[Any]:
    cookie = session_cookie(signed.token, expires_at=signed.session.expires_at, secure=settings.cookie_secure)
    return see_other(HOME, cookies=[cookie])


def refused(error: AppError) -> tuple[dict[str, str], str | None]:
    """Split an error into a message next to its field, or one above the form."""
    if error.field:
        return {error.field: error.message}, None
    return {}, error.message


async def form_fields(request: AnyRequest, *names: str) -> dict[str, str]:
    form = await request.form()
    return {name: value if isinstance(value := form.get(name), str) else "" for name in names}


async def tenant_page(
    request: AnyRequest,
    settings: Settings,
    tenants: TenantService,
    lifecycle: Lifecycle,
    slug: str,
    *,
    status: int = 200,
    **context: Any,
) -> Response[Any]:
    tenant = await tenants.get(slug)
    return page(
        request, settings, "tenant.html", status=status, tenant=tenant, events=await tenants.events(slug),
        logs=await lifecycle.logs(tenant, tail=LOG_LINES), allowed=allowed_actions(tenant.state), **context,
    )  # fmt: skip


def allowed_actions(state: TenantState) -> set[str]:
    """The actions worth a live button: those the state allows, no-ops included."""
    allowed = set()
    for verb in (Verb.START, Verb.STOP, Verb.RESTART):
        try:
            decide(verb, state, "")
        except AppError:
            continue
        allowed.add(verb.value)
    return allowed


class AdminController(Controller):
    path = HOME
    include_in_schema = False

    @get("/")
    async def home(
        self,
        request: AnyRequest,
        current: Current,
        tenants: Tenants,
        settings: AppSettings,
        created: FromQuery[str | None] = None,
        deleted: FromQuery[str | None] = None,
    ) -> Response[Any]:
        if current is None:
            return see_other(LOGIN)
        listing = await tenants.all()
        notice = (
            f"Tenant '{created}' created." if created and any(t.slug == created for t in listing) else None
        )
        if deleted and not any(t.slug == deleted for t in listing) and could_be_slug(deleted):
            notice = f"Tenant '{deleted}' deleted, with its container and its data."
        return page(request, settings, "tenants.html", user=current.user, tenants=listing, notice=notice)

    @post("/tenants", status_code=303)
    async def create_tenant(
        self, request: AnyRequest, current: Current, tenants: Tenants, settings: AppSettings
    ) -> Response[Any]:
        if current is None:
            return see_other(LOGIN)
        values = await form_fields(request, "slug", "name")
        try:
            tenant = await tenants.create(slug=values["slug"], name=values["name"], owner_id=current.user.id)
        except AppError as error:
            errors, form_error = refused(error)
            return page(
                request, settings, "tenants.html", status=error.status, user=current.user,
                tenants=await tenants.all(), values=values, errors=errors, form_error=form_error,
            )  # fmt: skip
        return see_other(f"{HOME}?created={tenant.slug}")

    @get("/tenants/{slug:str}")
    async def tenant_detail(
        self, request: AnyRequest, slug: FromPath[str], current: Current, tenants: Tenants,
        lifecycle: TenantLifecycle, settings: AppSettings, done: FromQuery[str | None] = None,
    ) -> Response[Any]:  # fmt: skip
        if current is None:
            return see_other(LOGIN)
        notice = _NOTHING_TO_DO if done == "noop" else _DONE.get(Verb(done)) if done in set(Verb) else None
        return await tenant_page(
            request, settings, tenants, lifecycle, slug, user=current.user, notice=notice
        )

    @post("/tenants/{slug:str}/{verb:str}", status_code=303)
    async def tenant_action(
        self, request: AnyRequest, slug: FromPath[str], verb: FromPath[str], current: Current,
        tenants: Tenants, lifecycle: TenantLifecycle, settings: AppSettings,
    ) -> Response[Any]:  # fmt: skip
        if current is None:
            return see_other(LOGIN)
        if verb not in set(Verb):
            raise NotFoundException(f"No action named '{verb}'.")
        action = Verb(verb)
        values = await form_fields(request, "confirm")
        try:
            if action is Verb.DELETE:
                if values["confirm"].strip() != slug:
                    raise InvalidInput(f"Type {slug} to confirm the deletion.", field="confirm")
                result = await lifecycle.delete(slug)
                if result.tenant is None:
                    return see_other(f"{HOME}?deleted={slug}")
            else:
                result = await {
                    Verb.START: lifecycle.start,
                    Verb.STOP: lifecycle.stop,
                    Verb.RESTART: lifecycle.restart,
                }[action](slug)
        except AppError as error:
            errors, form_error = refused(error)
            return await tenant_page(
                request, settings, tenants, lifecycle, slug, status=error.status, user=current.user,
                values=values, errors=errors, form_error=form_error,
            )  # fmt: skip
        return see_other(f"{HOME}/tenants/{slug}?done={action.value if result.changed else 'noop'}")

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
