"""The tenants API under /api/admin/tenants; every route needs the owner's session."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from cial_app.api.deps import Owner, Tenants
from cial_app.api.errors import error_responses
from cial_app.tenants.schemas import TenantCreate, TenantEventOut, TenantOut


class TenantController(Controller):
    path = "/api/admin/tenants"
    tags = ["tenants"]

    @get("/", summary="All tenants, oldest first", responses=error_responses(401))
    async def list_tenants(self, tenants: Tenants, owner: Owner) -> list[TenantOut]:
        return [TenantOut.of(t) for t in await tenants.all()]

    @post(
        "/",
        status_code=201,
        summary="Create a tenant; it starts in state 'provisioning'",
        responses=error_responses(400, 401, 403, 409, 415),
    )
    async def create_tenant(self, data: JSONBody[TenantCreate], tenants: Tenants, owner: Owner) -> TenantOut:
        tenant = await tenants.create(slug=data.slug, name=data.name, owner_id=owner.user.id)
        return TenantOut.of(tenant)

    @get("/{slug:str}", summary="One tenant", responses=error_responses(401, 404))
    async def get_tenant(self, slug: FromPath[str], tenants: Tenants, owner: Owner) -> TenantOut:
        return TenantOut.of(await tenants.get(slug))

    @get(
        "/{slug:str}/events",
        summary="The tenant's recent state changes, newest first",
        responses=error_responses(401, 404),
    )
    async def tenant_events(
        self, slug: FromPath[str], tenants: Tenants, owner: Owner
    ) -> list[TenantEventOut]:
        return [TenantEventOut.of(e) for e in await tenants.events(slug)]
