"""The admin's tenant pages: the list, creating one, a tenant's page and its actions.

The whole controller is guarded (`owner_only`): without a session a browser is sent to the
sign-in page, anyone but the owner gets 403, and a page added later is guarded too. Forms post
back here and go through the same `TenantService` as the JSON API; a refused input re-renders
the page with the message next to its field and the values kept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from cial_app.admin.pages import HOME, AnyRequest, form_fields, page, refused, see_other
from cial_app.admin.quarantine_pages import quarantined
from cial_app.errors import AppError, InvalidInput
from cial_app.provisioning import ActionResult, Verb, allowed
from cial_app.settings import Settings
from cial_app.sso.service import SsoService
from cial_app.tenants import idle
from cial_app.tenants.rules import could_be_slug
from cial_app.tenants.service import TenantService
from cial_app.web.deps import AppSettings, Owner, Quarantine, Sso, Tenants
from cial_app.web.guards import owner_only

LOG_LINES = 60
_DONE = {
    Verb.START: "Starting: the page follows its state.",
    Verb.STOP: "Stopping: its data stays in its volume.",
    Verb.RESTART: "Restarting.",
    Verb.DELETE: "Deletion under way: the App finishes it as soon as the engine lets it.",
}
_NOTHING_TO_DO = "Nothing to do: the tenant already is, or is on its way to, what was asked."
# The buttons a tenant page can show; deleting has its own form.
_BUTTONS = (Verb.START, Verb.STOP, Verb.RESTART)


async def tenant_page(
    request: AnyRequest,
    settings: Settings,
    tenants: TenantService,
    sso: SsoService,
    slug: str,
    *,
    status: int = 200,
    **context: Any,
) -> Response[Any]:
    tenant = await tenants.get(slug)
    buttons = {verb.value for verb in _BUTTONS if verb in allowed(tenant.state)}
    return page(
        request, settings, "tenant.html", status=status, tenant=tenant, events=await tenants.events(tenant),
        logs=await tenants.logs(tenant, tail=LOG_LINES), allowed=buttons,
        open_refused=sso.why_not_open(tenant.state), idle_choices=idle_choices(tenant.idle_after_seconds),
        **context,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class IdleChoice:
    value: str  # minutes, or "never"
    label: str
    selected: bool


def idle_choices(current: int | None) -> list[IdleChoice]:
    """The form's options; a time set through the API that is not among them is shown too."""
    offered = [None if m is None else m * 60 for m in idle.ADMIN_CHOICES]
    if current not in offered:
        offered.insert(0, current)
    return [
        IdleChoice(
            idle.NEVER if seconds is None else f"{seconds / 60:g}", idle.describe(seconds), seconds == current
        )
        for seconds in offered
    ]


class TenantPages(Controller):
    path = HOME
    include_in_schema = False
    guards = [owner_only]

    @get("/")
    async def home(
        self,
        request: AnyRequest,
        owner: Owner,
        tenants: Tenants,
        sso: Sso,
        settings: AppSettings,
        quarantine: Quarantine,
        created: FromQuery[str | None] = None,
        deleted: FromQuery[str | None] = None,
        restored: FromQuery[str | None] = None,
        purged: FromQuery[str | None] = None,
        quarantine_error: FromQuery[str | None] = None,
    ) -> Response[Any]:
        listing = await tenants.all()
        notice = (
            f"Tenant '{created}' created." if created and any(t.slug == created for t in listing) else None
        )
        if deleted and not any(t.slug == deleted for t in listing) and could_be_slug(deleted):
            notice = f"Tenant '{deleted}' deleted, with its container and its data."
        if restored and any(t.slug == restored for t in listing):
            notice = f"Tenant '{restored}' restored from quarantine, with its data; it is starting."
        held, unlisted = await quarantined(quarantine)
        if purged and not any(q.slug == purged or q.tenant_id == purged for q in held):
            notice = f"Quarantined tenant '{purged}' deleted, with its data."
        return page(
            request, settings, "tenants.html", user=owner.user, tenants=listing, notice=notice,
            sso_ready=sso.configured, quarantined=held, quarantine_note=unlisted,
            quarantine_error=quarantine_error if held else None,
        )  # fmt: skip

    @post("/tenants", status_code=303)
    async def create_tenant(
        self, request: AnyRequest, owner: Owner, tenants: Tenants, sso: Sso, settings: AppSettings
    ) -> Response[Any]:
        values = await form_fields(request, "slug", "name")
        try:
            tenant = await tenants.create(slug=values["slug"], name=values["name"], owner_id=owner.user.id)
        except AppError as error:
            errors, form_error = refused(error)
            return page(
                request, settings, "tenants.html", status=error.status, user=owner.user,
                tenants=await tenants.all(), values=values, errors=errors, form_error=form_error,
                sso_ready=sso.configured,
            )  # fmt: skip
        return see_other(f"{HOME}?created={tenant.slug}")

    @get("/tenants/{slug:str}")
    async def tenant_detail(
        self, request: AnyRequest, slug: FromPath[str], owner: Owner, tenants: Tenants, sso: Sso,
        settings: AppSettings, done: FromQuery[str | None] = None,
    ) -> Response[Any]:  # fmt: skip
        notice = _NOTHING_TO_DO if done == "noop" else _DONE.get(Verb(done)) if done in set(Verb) else None
        if done == "idle-time":
            notice = "Idle time saved."
        return await tenant_page(request, settings, tenants, sso, slug, user=owner.user, notice=notice)

    @post("/tenants/{slug:str}/idle-time", status_code=303)
    async def set_idle_time(
        self, request: AnyRequest, slug: FromPath[str], owner: Owner, tenants: Tenants, sso: Sso,
        settings: AppSettings,
    ) -> Response[Any]:  # fmt: skip
        values = await form_fields(request, "idle_minutes")
        try:
            tenant = await tenants.set_idle_after(slug, idle.parse_minutes(values["idle_minutes"]))
        except AppError as error:
            errors, form_error = refused(error)
            return await tenant_page(
                request, settings, tenants, sso, slug, status=error.status, user=owner.user,
                values=values, errors=errors, form_error=form_error,
            )  # fmt: skip
        return see_other(f"{HOME}/tenants/{tenant.slug}?done=idle-time")

    @post("/tenants/{slug:str}/{verb:str}", status_code=303)
    async def tenant_action(
        self, request: AnyRequest, slug: FromPath[str], verb: FromPath[str], owner: Owner,
        tenants: Tenants, sso: Sso, settings: AppSettings,
    ) -> Response[Any]:  # fmt: skip
        if verb not in {v.value for v in _BUTTONS} | {Verb.DELETE.value}:
            raise NotFoundException(f"No action named '{verb}'.")
        action = Verb(verb)
        values = await form_fields(request, "confirm")
        try:
            result = await _act(tenants, action, slug, values["confirm"])
        except AppError as error:
            errors, form_error = refused(error)
            return await tenant_page(
                request, settings, tenants, sso, slug, status=error.status, user=owner.user,
                values=values, errors=errors, form_error=form_error,
            )  # fmt: skip
        if result.tenant is None:
            return see_other(f"{HOME}?deleted={slug}")
        return see_other(f"{HOME}/tenants/{slug}?done={action.value if result.changed else 'noop'}")


async def _act(tenants: TenantService, action: Verb, slug: str, confirm: str) -> ActionResult:
    if action is Verb.DELETE:
        if confirm.strip() != slug:
            raise InvalidInput(f"Type {slug} to confirm the deletion.", field="confirm")
        return await tenants.delete(slug)
    verbs = {Verb.START: tenants.start, Verb.STOP: tenants.stop, Verb.RESTART: tenants.restart}
    return await verbs[action](slug)
