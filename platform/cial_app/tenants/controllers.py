"""The tenants API under /api/admin/tenants; every route needs the owner's session (one guard on
the whole controller).

Lifecycle actions answer 202 when they set work going (follow `state` by polling the tenant),
200 when there was nothing to do, and 409 when the tenant's state forbids the action.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, delete, get, post, put
from litestar.datastructures import ResponseHeader
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT, HTTP_303_SEE_OTHER

from cial_app.provisioning import ActionResult
from cial_app.settings import Settings
from cial_app.tenants.schemas import IdleTime, TenantCreate, TenantEventOut, TenantLogsOut, TenantOut
from cial_app.web.deps import AppSettings, Owner, Sso, Tenants
from cial_app.web.guards import BROWSER_NAVIGATES_HERE, owner_only
from cial_app.web.responses import error_responses

_ACTION_RESPONSES = {
    **error_responses(401, 403, 404, 409),
    HTTP_200_OK: ResponseSpec(
        data_container=TenantOut, description="Nothing to do: the tenant already is, or is becoming, that"
    ),
}


# The Open redirect's URL carries a bearer token: no cache may keep it, and the tenant's page
# must not learn it from a Referer.
_OPEN_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _action_response(result: ActionResult, settings: Settings) -> Response[TenantOut]:
    assert result.tenant is not None  # only a deletion removes the tenant
    status = HTTP_202_ACCEPTED if result.changed else HTTP_200_OK
    return Response(TenantOut.of(result.tenant, settings.tenant_url_template), status_code=status)


class TenantController(Controller):
    path = "/api/admin/tenants"
    tags = ["tenants"]
    guards = [owner_only]

    @get("/", summary="All tenants, oldest first", responses=error_responses(401))
    async def list_tenants(self, tenants: Tenants, settings: AppSettings) -> list[TenantOut]:
        return [TenantOut.of(t, settings.tenant_url_template) for t in await tenants.all()]

    @post(
        "/",
        status_code=201,
        summary="Create a tenant; it answers at once in state 'provisioning' and comes up in the background",
        responses=error_responses(400, 401, 403, 409, 415),
    )
    async def create_tenant(
        self, data: JSONBody[TenantCreate], tenants: Tenants, owner: Owner, settings: AppSettings
    ) -> TenantOut:
        tenant = await tenants.create(slug=data.slug, name=data.name, owner_id=owner.user.id)
        return TenantOut.of(tenant, settings.tenant_url_template)

    @get("/{slug:str}", summary="One tenant", responses=error_responses(401, 404))
    async def get_tenant(self, slug: FromPath[str], tenants: Tenants, settings: AppSettings) -> TenantOut:
        return TenantOut.of(await tenants.get(slug), settings.tenant_url_template)

    @delete(
        "/{slug:str}",
        # The usual answer is 204 (set per response below); Litestar forbids a body for a 204
        # route, and the 202 one has one.
        status_code=HTTP_202_ACCEPTED,
        summary="Delete a tenant with its container and volume (its data)",
        description=(
            "204 once the container, the volume and the tenant are gone. 202 with the tenant in "
            "state 'deleting' when the engine cannot remove them now: the App finishes the "
            "deletion when it can. A second DELETE of a deleted tenant gets 404."
        ),
        responses={
            **error_responses(401, 403, 404),
            HTTP_202_ACCEPTED: ResponseSpec(data_container=TenantOut, description="Deletion under way"),
            HTTP_204_NO_CONTENT: ResponseSpec(data_container=None, description="Deleted, data included"),
        },
    )
    async def delete_tenant(
        self, slug: FromPath[str], tenants: Tenants, settings: AppSettings
    ) -> Response[Any]:
        result = await tenants.delete(slug)
        if result.tenant is None:
            return Response(None, status_code=HTTP_204_NO_CONTENT)
        return Response(
            TenantOut.of(result.tenant, settings.tenant_url_template), status_code=HTTP_202_ACCEPTED
        )

    @post(
        "/{slug:str}/start",
        status_code=HTTP_202_ACCEPTED,
        summary="Start a stopped tenant, or retry one in error",
        responses=_ACTION_RESPONSES,
    )
    async def start_tenant(
        self, slug: FromPath[str], tenants: Tenants, settings: AppSettings
    ) -> Response[TenantOut]:
        return _action_response(await tenants.start(slug), settings)

    @post(
        "/{slug:str}/stop",
        status_code=HTTP_202_ACCEPTED,
        summary="Stop a tenant; its data stays in its volume",
        responses=_ACTION_RESPONSES,
    )
    async def stop_tenant(
        self, slug: FromPath[str], tenants: Tenants, settings: AppSettings
    ) -> Response[TenantOut]:
        return _action_response(await tenants.stop(slug), settings)

    @post(
        "/{slug:str}/restart",
        status_code=HTTP_202_ACCEPTED,
        summary="Stop a tenant's container and start it again",
        responses=_ACTION_RESPONSES,
    )
    async def restart_tenant(
        self, slug: FromPath[str], tenants: Tenants, settings: AppSettings
    ) -> Response[TenantOut]:
        return _action_response(await tenants.restart(slug), settings)

    @put(
        "/{slug:str}/idle-time",
        summary="How long the tenant may go unused before it is stopped until the next request",
        responses=error_responses(400, 401, 403, 404, 415),
    )
    async def set_idle_time(
        self, slug: FromPath[str], data: JSONBody[IdleTime], tenants: Tenants, settings: AppSettings
    ) -> TenantOut:
        tenant = await tenants.set_idle_after(slug, data.idle_after_seconds)
        return TenantOut.of(tenant, settings.tenant_url_template)

    @get(
        "/{slug:str}/events",
        summary="The tenant's recent state changes, newest first",
        responses=error_responses(401, 404),
    )
    async def tenant_events(self, slug: FromPath[str], tenants: Tenants) -> list[TenantEventOut]:
        return [TenantEventOut.of(e) for e in await tenants.events(await tenants.get(slug))]

    @get(
        "/{slug:str}/logs",
        summary="The last lines its container wrote (stdout and stderr)",
        responses=error_responses(400, 401, 404),
    )
    async def tenant_logs(
        self,
        slug: FromPath[str],
        tenants: Tenants,
        tail: FromQuery[int] = 100,
    ) -> TenantLogsOut:
        logs = await tenants.logs(await tenants.get(slug), tail=max(1, min(tail, 1000)))
        return TenantLogsOut(lines=logs.lines, note=logs.note)

    @get(
        "/{slug:str}/open",
        status_code=HTTP_303_SEE_OTHER,
        summary="Open a running tenant, signed in as its owner",
        description=(
            "303 to `{tenant url}/.cial/sso?token=<jwt>`: a one-minute, single-use token for this "
            "tenant alone (docs/sso-contract.md), which the tenant exchanges for its own session. "
            "409 unless the tenant is running. Without a session: 401, or for a browser "
            "(`Accept: text/html`) a 303 to the admin's sign-in page. 503 when the App has no "
            "CIAL_SSO_SECRET."
        ),
        response_description="To the tenant, where the token signs the owner in",
        # Litestar documents the Redirect's Location itself.
        response_headers=[
            ResponseHeader(name=name, value=value, documentation_only=True, required=True)
            for name, value in _OPEN_HEADERS.items()
        ],
        responses=error_responses(401, 403, 404, 409, 503),
        opt={BROWSER_NAVIGATES_HERE: True},
    )
    async def open_tenant(self, slug: FromPath[str], sso: Sso, owner: Owner) -> Redirect:
        # The location holds the token: it goes into this header and nowhere else (not logged).
        location = await sso.open_url(slug, owner.user)
        return Redirect(location, status_code=HTTP_303_SEE_OTHER, headers=_OPEN_HEADERS)
