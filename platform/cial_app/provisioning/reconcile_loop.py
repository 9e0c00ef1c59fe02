"""The reconciler loop: at App start and every few seconds, the tenants table and the engine are
compared and the gap closed. Level-triggered: it needs no event, only the two states, so a round
that finds nothing to do changes nothing, and logs nothing.

Orphans (labelled resources of this App's instance with no tenant row) are quarantined here: a
running one is stopped, and nothing is removed (the owner restores or deletes them in the admin,
`tenants.quarantine`). Each tenant's own repairs go through `Repairs.converge`, which shares the
tenant's lock and job slot with the owner's requests.
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
                if action.kind is ActionKind.STOP_ORPHAN:
                    await self._quarantine(action)

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

    async def _quarantine(self, action: Action) -> None:
        name = f"{action.slug or '?'} ({action.tenant_id})"
        try:
            await self._orchestrator.stop(action.tenant_id)
        except OrchestratorError as error:
            log.warning("could not stop the container of unknown tenant %s: %s", name, error.reason)
        else:
            log.warning(
                "quarantined tenant %s: no tenant row has its id; its container is stopped and kept "
                "with its volume until the owner restores or deletes it in the admin",
                name,
            )

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
