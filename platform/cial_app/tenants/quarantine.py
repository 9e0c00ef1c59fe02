"""Machines and volumes labelled for a tenant this App has no row for: kept, for the owner to judge.

The reconciler stops such a machine and removes nothing (`orchestrator.plan`): an empty, restored
or wrong database must not cost every tenant its data. Here the owner sees them and decides:
restore one as a tenant again (its id, slug and volume, so its data comes back with it) or delete
it for good. Both refuse once a tenant row with that id exists again, and restoring refuses a
slug that another tenant has taken meanwhile.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from cial_app.db import is_unique_violation
from cial_app.errors import Conflict, NotFound
from cial_app.orchestrator import Machine, Orchestrator, Volume
from cial_app.tenants import rules
from cial_app.tenants.service import TenantActions
from cial_app.tenants.states import TenantState
from cial_app.tenants.store import TenantRecord, TenantStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Quarantined:
    """What the engine holds for one tenant id that no tenant row has."""

    tenant_id: str
    slug: str | None
    machines: list[Machine] = field(default_factory=list)
    volumes: list[Volume] = field(default_factory=list)

    @property
    def since(self) -> datetime | None:
        """When its oldest resource was made (the engine's own creation time)."""
        made = [m.created_at for m in self.machines] + [v.created_at for v in self.volumes]
        known = [when for when in made if when is not None]
        return min(known) if known else None


class SlugTakenByTenant(Conflict):
    code = "slug_taken"

    def __init__(self, slug: str) -> None:
        super().__init__(
            f"Slug '{slug}' belongs to another tenant now; delete that tenant first, or delete this "
            "quarantined one."
        )


class QuarantineService:
    def __init__(self, store: TenantStore, orchestrator: Orchestrator, actions: TenantActions) -> None:
        self._store = store
        self._orchestrator = orchestrator
        self._actions = actions

    async def all(self) -> list[Quarantined]:
        known = {str(t.id) for t in await self._store.list_all()}
        machines: dict[str, list[Machine]] = defaultdict(list)
        volumes: dict[str, list[Volume]] = defaultdict(list)
        for machine in await self._orchestrator.list_machines():
            if machine.tenant_id not in known:
                machines[machine.tenant_id].append(machine)
        for volume in await self._orchestrator.list_volumes():
            if volume.tenant_id not in known:
                volumes[volume.tenant_id].append(volume)
        found = []
        for tenant_id in sorted({*machines, *volumes}):
            labels = [m.slug for m in machines[tenant_id]] + [v.slug for v in volumes[tenant_id]]
            slug = next((label for label in labels if label), None)
            found.append(Quarantined(tenant_id, slug, machines[tenant_id], volumes[tenant_id]))
        return found

    async def get(self, tenant_id: str) -> Quarantined:
        for entry in await self.all():
            if entry.tenant_id == tenant_id:
                return entry
        raise NotFound(f"Nothing is quarantined under the tenant id '{tenant_id}'.")

    async def restore(self, tenant_id: str, *, owner_id: uuid.UUID) -> TenantRecord:
        """A tenant row again, with the resources' own id and slug; provisioning then adopts the
        machine (or makes one) on the same volume."""
        entry = await self.get(tenant_id)
        if entry.slug is None or not rules.could_be_slug(entry.slug):
            raise Conflict(f"Quarantined tenant {tenant_id} has no usable slug label; it cannot be restored.")
        if await self._store.by_slug(entry.slug) is not None:
            raise SlugTakenByTenant(entry.slug)
        try:
            tenant = await self._store.insert(
                tenant_id=uuid.UUID(tenant_id),
                slug=entry.slug,
                name=entry.slug,
                owner_id=owner_id,
                state=TenantState.PROVISIONING,
                reason="restored from quarantine: its container and volume had no tenant row",
            )
        except Exception as error:
            if is_unique_violation(error):
                raise SlugTakenByTenant(entry.slug) from error
            raise
        log.info("tenant %s (%s): restored from quarantine", tenant.slug, tenant.id)
        await self._actions.provision(tenant)
        return tenant

    async def delete(self, tenant_id: str) -> None:
        """Its machines, volumes and network, for good: the owner's explicit choice."""
        entry = await self.get(tenant_id)
        await self._orchestrator.destroy(entry.tenant_id)
        log.warning(
            "quarantined tenant %s (%s) deleted by the owner, with its data", entry.slug or "?", tenant_id
        )
