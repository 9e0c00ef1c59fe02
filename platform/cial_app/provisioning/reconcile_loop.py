"""The reconciler loop: at App start and every few seconds, the tenants table and the engine are
compared and the gap closed. Level-triggered: it needs no event, only the two states, so a round
that finds nothing to do changes nothing, and logs nothing.

Orphans (labelled resources of this App's instance with no tenant row) are removed here; each
tenant's own repairs go through `Repairs.converge`, which shares the tenant's lock and job slot
with the owner's requests.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

from cial_app.db import utcnow
from cial_app.orchestrator import (
    Action,
    ActionKind,
    DesiredTenant,
    EngineUnavailable,
    Machine,
    Orchestrator,
    OrchestratorError,
    Volume,
    plan,
)
from cial_app.provisioning.repairs import Repairs
from cial_app.tenants.store import TenantStore

log = logging.getLogger(__name__)

_ORPHANS = frozenset({ActionKind.REMOVE_ORPHAN_MACHINE, ActionKind.REMOVE_ORPHAN_VOLUME})


class ReconcileLoop:
    def __init__(
        self,
        store: TenantStore,
        orchestrator: Orchestrator,
        repairs: Repairs,
        *,
        interval: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._orchestrator = orchestrator
        self._repairs = repairs
        self._interval = interval
        self._clock = clock
        self._round = asyncio.Lock()
        self._engine_down = False
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0

    async def tick(self) -> None:
        """One round: read the tenants, observe the engine, remove orphans, converge each tenant."""
        async with self._round:
            self.rounds += 1
            # Taken before the tenants are read: a resource created after it may belong to a
            # tenant inserted since, so it is not an orphan yet (see orchestrator.plan).
            as_of = self._clock()
            tenants = await self._store.list_all()
            observed_at = self._clock()
            orchestrator = self._orchestrator
            try:
                machines = await orchestrator.list_machines()
                volumes = await orchestrator.list_volumes()
                # A router recreated since (local-down/up) must join the networks of running tenants.
                await orchestrator.ensure_routes()
            except EngineUnavailable as error:
                if not self._engine_down:
                    log.warning("container engine unreachable: %s", error.reason)
                self._engine_down = True
                await self._repairs.engine_down([t.id for t in tenants], error)
                return
            if self._engine_down:
                log.info("container engine reachable again")
                self._engine_down = False

            desired = [DesiredTenant(str(t.id), t.slug, t.desired) for t in tenants]
            for action in plan(desired, machines, volumes, desired_as_of=as_of):
                if action.kind in _ORPHANS:
                    await self._remove_orphan(action)

            machines_of: dict[str, list[Machine]] = defaultdict(list)
            for machine in machines:
                machines_of[machine.tenant_id].append(machine)
            volumes_of: dict[str, list[Volume]] = defaultdict(list)
            for volume in volumes:
                volumes_of[volume.tenant_id].append(volume)
            for tenant in tenants:
                key = str(tenant.id)
                await self._repairs.converge(
                    tenant.id, machines_of[key], volumes_of[key], observed_at=observed_at
                )

    async def _remove_orphan(self, action: Action) -> None:
        what = "container" if action.kind is ActionKind.REMOVE_ORPHAN_MACHINE else "volume"
        target = action.target or ""
        label = target[:12] if what == "container" else target
        orchestrator = self._orchestrator
        try:
            if action.kind is ActionKind.REMOVE_ORPHAN_MACHINE:
                await orchestrator.remove_machine(target)
            else:
                await orchestrator.remove_volume(target)
        except OrchestratorError as error:
            log.warning(
                "could not remove orphan %s %s (tenant %s): %s", what, label, action.tenant_id, error.reason
            )
        else:
            log.info("removed orphan %s %s: no tenant has id %s", what, label, action.tenant_id)

    # ---------------------------------------------------------------------------------- the loop

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="tenant reconciler")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])

    async def _run(self) -> None:
        failing: str | None = None
        while True:
            try:
                await self.tick()
            except Exception as error:
                # Say it once, not every few seconds (the database may be restarting).
                text = f"{type(error).__name__}: {error}"
                if text != failing:
                    log.exception("reconcile round failed: %s", text)
                failing = text
            else:
                if failing is not None:
                    log.info("reconcile rounds succeed again")
                failing = None
            await asyncio.sleep(self._interval)
