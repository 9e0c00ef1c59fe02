"""Everything the App does with tenants; the web layer (API and admin pages) only calls this,
one service for the resource: it finds the tenant once and hands it to the provisioning side."""

from __future__ import annotations

import logging
import uuid
from typing import Protocol

from cial_app.db import is_unique_violation
from cial_app.errors import Conflict, NotFound
from cial_app.provisioning.actions import ActionResult, TenantLogs
from cial_app.tenants import idle, rules
from cial_app.tenants.states import TenantState
from cial_app.tenants.store import TenantEventRecord, TenantRecord, TenantStore

log = logging.getLogger(__name__)


class TenantActions(Protocol):
    """What acts on a tenant's machine (`provisioning.OwnerActions`).

    `provision` is called once the tenant's row is committed in state `provisioning`. Each must
    return quickly: the API answers only after it returns, so long work belongs in a background
    task, which records its progress through `TenantStore.transition`.
    """

    async def provision(self, tenant: TenantRecord) -> None: ...
    async def start(self, tenant: TenantRecord) -> ActionResult: ...
    async def stop(self, tenant: TenantRecord) -> ActionResult: ...
    async def restart(self, tenant: TenantRecord) -> ActionResult: ...
    async def delete(self, tenant: TenantRecord) -> ActionResult: ...
    async def idle(self, tenant: TenantRecord) -> ActionResult: ...
    async def wake(self, tenant: TenantRecord) -> ActionResult: ...
    async def logs(self, tenant: TenantRecord, tail: int = 100) -> TenantLogs: ...


class SlugTaken(Conflict):
    code = "slug_taken"

    def __init__(self, slug: str) -> None:
        super().__init__(f"Slug '{slug}' is already taken.", field="slug")


class TenantService:
    def __init__(
        self, store: TenantStore, actions: TenantActions, *, idle_after_seconds: int | None = None
    ) -> None:
        """`idle_after_seconds`: what a new tenant gets (settings.idle_after_seconds)."""
        self._store = store
        self._actions = actions
        self._idle_after = idle_after_seconds

    async def all(self) -> list[TenantRecord]:
        return await self._store.list_all()

    async def get(self, slug: str) -> TenantRecord:
        tenant = await self._store.by_slug(slug) if rules.could_be_slug(slug) else None
        if tenant is None:
            raise NotFound(f"No tenant has the slug '{slug}'.")
        return tenant

    async def events(self, tenant: TenantRecord, *, limit: int = 20) -> list[TenantEventRecord]:
        return await self._store.events(tenant.id, limit=limit)

    async def logs(self, tenant: TenantRecord, *, tail: int = 100) -> TenantLogs:
        return await self._actions.logs(tenant, tail)

    async def start(self, slug: str) -> ActionResult:
        return await self._actions.start(await self.get(slug))

    async def stop(self, slug: str) -> ActionResult:
        return await self._actions.stop(await self.get(slug))

    async def restart(self, slug: str) -> ActionResult:
        return await self._actions.restart(await self.get(slug))

    async def delete(self, slug: str) -> ActionResult:
        return await self._actions.delete(await self.get(slug))

    async def idle(self, slug: str) -> ActionResult:
        """The router's: the tenant had no traffic for its idle time."""
        return await self._actions.idle(await self.get(slug))

    async def wake(self, slug: str) -> ActionResult:
        """The router's: a request for the tenant is waiting."""
        return await self._actions.wake(await self.get(slug))

    async def set_idle_after(self, slug: str, seconds: int | None) -> TenantRecord:
        tenant = await self.get(slug)
        return await self._store.set_idle_after(tenant.id, idle.check_idle_after(seconds))

    async def create(self, *, slug: str, name: str, owner_id: uuid.UUID) -> TenantRecord:
        slug = rules.check_slug(slug)
        name = rules.check_name(name)
        if await self._store.by_slug(slug) is not None:
            raise SlugTaken(slug)
        try:
            tenant = await self._store.insert(
                slug=slug,
                name=name,
                owner_id=owner_id,
                state=TenantState.PROVISIONING,
                reason="created",
                idle_after_seconds=self._idle_after,
            )
        except Exception as error:
            # Two creates with one slug raced past the check above; the database picked one.
            if is_unique_violation(error):
                raise SlugTaken(slug) from error
            raise
        return await self._start_provisioning(tenant)

    async def _start_provisioning(self, tenant: TenantRecord) -> TenantRecord:
        try:
            await self._actions.provision(tenant)
        except Exception as error:
            # The row is committed: say in the tenant's own log why it went nowhere.
            log.exception("provisioning tenant %s could not start", tenant.slug)
            return await self._store.transition(
                tenant.id, TenantState.ERROR, f"provisioning could not start: {error}"
            )
        # As stored, not re-read: the answer is `provisioning` whatever the background work has
        # done since; clients follow the state by polling.
        return tenant
