"""Everything the App does with tenants; the web layer (API and admin pages) only calls this."""

from __future__ import annotations

import logging
import uuid
from typing import Protocol

from cial_app.db import is_unique_violation
from cial_app.errors import Conflict, NotFound
from cial_app.tenants import rules
from cial_app.tenants.states import TenantState
from cial_app.tenants.store import TenantEventRecord, TenantRecord, TenantStore

log = logging.getLogger(__name__)


class TenantProvisioner(Protocol):
    """What brings a new tenant to life (`provisioning.Lifecycle`).

    Called once the tenant's row is committed in state `provisioning`. It must return quickly:
    the API answers the create request only after it returns, so long work belongs in a
    background task. It records progress through `TenantStore.transition`.
    """

    async def provision(self, tenant: TenantRecord) -> None: ...


class SlugTaken(Conflict):
    code = "slug_taken"

    def __init__(self, slug: str) -> None:
        super().__init__(f"Slug '{slug}' is already taken.", field="slug")


class TenantService:
    def __init__(self, store: TenantStore, provisioner: TenantProvisioner | None = None) -> None:
        self._store = store
        self._provisioner = provisioner

    async def all(self) -> list[TenantRecord]:
        return await self._store.list_all()

    async def get(self, slug: str) -> TenantRecord:
        tenant = await self._store.by_slug(slug) if rules.could_be_slug(slug) else None
        if tenant is None:
            raise NotFound(f"No tenant has the slug '{slug}'.")
        return tenant

    async def events(self, slug: str, *, limit: int = 20) -> list[TenantEventRecord]:
        tenant = await self.get(slug)
        return await self._store.events(tenant.id, limit=limit)

    async def create(self, *, slug: str, name: str, owner_id: uuid.UUID) -> TenantRecord:
        slug = rules.check_slug(slug)
        name = rules.check_name(name)
        if await self._store.by_slug(slug) is not None:
            raise SlugTaken(slug)
        try:
            tenant = await self._store.insert(
                slug=slug, name=name, owner_id=owner_id, state=TenantState.PROVISIONING, reason="created"
            )
        except Exception as error:
            # Two creates with one slug raced past the check above; the database picked one.
            if is_unique_violation(error):
                raise SlugTaken(slug) from error
            raise
        if self._provisioner is not None:
            tenant = await self._start_provisioning(self._provisioner, tenant)
        return tenant

    async def _start_provisioning(self, provisioner: TenantProvisioner, tenant: TenantRecord) -> TenantRecord:
        try:
            await provisioner.provision(tenant)
        except Exception as error:
            # The row is committed: say in the tenant's own log why it went nowhere.
            log.exception("provisioning tenant %s could not start", tenant.slug)
            return await self._store.transition(
                tenant.id, TenantState.ERROR, f"provisioning could not start: {error}"
            )
        # As stored, not re-read: the answer is `provisioning` whatever the background work has
        # done since; clients follow the state by polling.
        return tenant
