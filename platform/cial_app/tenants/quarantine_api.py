"""The quarantine API under /api/admin/quarantine (owner only): what the engine holds for tenant
ids the App has no row for, and the owner's two ways out of it (see `tenants.quarantine`)."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from litestar import Controller, delete, get, post
from litestar.params import FromPath
from litestar.status_codes import HTTP_204_NO_CONTENT

from cial_app.errors import NotFound
from cial_app.tenants.quarantine import Quarantined
from cial_app.tenants.schemas import TenantOut
from cial_app.web.deps import AppSettings, Owner, Quarantine
from cial_app.web.guards import owner_only
from cial_app.web.responses import error_responses


class QuarantinedMachineOut(msgspec.Struct):
    id: str | None
    name: str | None
    state: str


class QuarantinedOut(msgspec.Struct):
    tenant_id: str
    slug: str | None
    since: datetime | None
    containers: list[QuarantinedMachineOut]
    volumes: list[str]

    @classmethod
    def of(cls, entry: Quarantined) -> QuarantinedOut:
        return cls(
            tenant_id=entry.tenant_id,
            slug=entry.slug,
            since=entry.since,
            containers=[QuarantinedMachineOut(m.id, m.name, m.state.value) for m in entry.machines],
            volumes=[v.name for v in entry.volumes],
        )


def _checked(tenant_id: str) -> str:
    """Tenant ids are UUIDs; anything else cannot be in quarantine (and never reaches the engine)."""
    try:
        return str(uuid.UUID(tenant_id))
    except ValueError:
        raise NotFound(f"Nothing is quarantined under the tenant id '{tenant_id}'.") from None


class QuarantineController(Controller):
    path = "/api/admin/quarantine"
    tags = ["quarantine"]
    guards = [owner_only]

    @get("/", summary="Machines and volumes of tenant ids that no tenant has", responses=error_responses(401))
    async def list_quarantined(self, quarantine: Quarantine) -> list[QuarantinedOut]:
        return [QuarantinedOut.of(entry) for entry in await quarantine.all()]

    @post(
        "/{tenant_id:str}/restore",
        status_code=201,
        summary="Make it a tenant again, with its id, slug and data; it then starts",
        responses=error_responses(401, 403, 404, 409),
    )
    async def restore(
        self, tenant_id: FromPath[str], quarantine: Quarantine, owner: Owner, settings: AppSettings
    ) -> TenantOut:
        tenant = await quarantine.restore(_checked(tenant_id), owner_id=owner.user.id)
        return TenantOut.of(tenant, settings.tenant_url_template)

    @delete(
        "/{tenant_id:str}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete its machines and volumes for good",
        responses=error_responses(401, 403, 404),
    )
    async def delete_quarantined(self, tenant_id: FromPath[str], quarantine: Quarantine) -> None:
        await quarantine.delete(_checked(tenant_id))
