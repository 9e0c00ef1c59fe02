"""What the reconciler asks of one tenant: bring it toward what its owner wants, given what the
engine showed of it. Shares the tenant's lock and job slot with the owner's actions."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime

from cial_app.orchestrator import (
    HEALTH_PATH,
    ActionKind,
    DesiredTenant,
    EngineUnavailable,
    Health,
    Machine,
    MachineState,
    OrchestratorError,
    Volume,
    plan,
)
from cial_app.orchestrator.base import preference
from cial_app.provisioning.jobs import JobKind
from cial_app.provisioning.work import TenantWork, short
from cial_app.tenants.states import DesiredState, TenantState
from cial_app.tenants.store import Placement, TenantRecord

log = logging.getLogger(__name__)

_S = TenantState


class Repairs:
    def __init__(self, work: TenantWork) -> None:
        self._work = work
        self._store = work.store

    async def converge(
        self,
        tenant_id: uuid.UUID,
        machines: Sequence[Machine],
        volumes: Sequence[Volume],
        *,
        observed_at: datetime,
    ) -> None:
        """Bring one tenant toward what its owner wants, given what the engine showed of it at
        `observed_at`.

        Leaves alone a tenant that has a job, whose lock is held (a request is deciding), or whose
        row changed since the engine was observed (the view is stale for it): the next round sees
        the result. Starts at most one job, and never waits for it."""
        work = self._work
        lock = work.lock(tenant_id)
        if lock.locked() or work.jobs.busy(tenant_id):
            return
        async with lock:
            tenant = await self._store.by_id(tenant_id)
            if tenant is None or tenant.updated_at > observed_at:
                return
            actions = plan([DesiredTenant(str(tenant.id), tenant.slug, tenant.desired)], machines, volumes)
            kinds = {action.kind for action in actions}
            for action in actions:
                if action.kind is ActionKind.REMOVE_DUPLICATE and action.target:
                    await self._remove_duplicate(tenant, action.target)
            machine = min(machines, key=preference) if machines else Machine.absent(str(tenant.id))
            if tenant.desired is DesiredState.ABSENT:
                await self._converge_absent(tenant)
            elif tenant.desired is DesiredState.STOPPED:
                await self._converge_stopped(tenant, machine, ActionKind.STOP in kinds)
            else:
                needs_engine = bool(kinds & {ActionKind.CREATE, ActionKind.START})
                await self._converge_running(tenant, machine, needs_engine)

    async def engine_down(self, tenant_ids: Sequence[uuid.UUID], error: EngineUnavailable) -> None:
        """The engine cannot be reached: tenants meant to run go to `error` with the reason (the
        App can neither see nor repair them). The first round that reaches the engine again
        brings them back."""
        work = self._work
        for tenant_id in tenant_ids:
            lock = work.lock(tenant_id)
            if lock.locked() or work.jobs.busy(tenant_id):
                continue
            async with lock:
                tenant = await self._store.by_id(tenant_id)
                if tenant is None or tenant.desired is not DesiredState.RUNNING:
                    continue
                if tenant.state in (_S.IDLE, _S.IDLING):
                    # Stopped (or being stopped) on purpose: it needs the engine only when woken,
                    # and from `error` the engine's return would start it.
                    continue
                if tenant.state is _S.ERROR and tenant.state_reason == error.reason:
                    continue
                await self._store.transition(tenant.id, _S.ERROR, error.reason, expect={tenant.state})
                log.warning("tenant %s: error: %s", tenant.slug, error.reason)

    async def _converge_running(self, tenant: TenantRecord, machine: Machine, needs_engine: bool) -> None:
        work = self._work
        if tenant.state is _S.IDLE:
            # Stopped for being unused, and meant to stay so until a request wakes it: no round
            # of the reconciler (an App restart above all) starts it.
            if machine.exists and machine.id != tenant.machine_id:
                await self._store.set_placement(tenant.id, Placement(machine.id))
            return
        if tenant.state is _S.IDLING:
            log.info("tenant %s: finishing an interrupted stop for idleness", tenant.slug)
            work.jobs.start(tenant.id, JobKind.STOP_IDLE, work.stop_idle(tenant.id))
            return
        if not needs_engine and tenant.state is _S.RUNNING:
            crash = _crash_reason(machine)
            if crash is not None:
                # Docker's restart policy keeps bringing it back, so no action is planned; but a
                # tenant that does not serve must not be shown as `running`. From `error` the next
                # due round waits for it to answer again, and it returns to `running` on its own.
                await self._store.transition(tenant.id, _S.ERROR, crash, expect={_S.RUNNING})
                log.warning("tenant %s: error: %s", tenant.slug, crash)
                return
            placement = Placement.of(machine)
            if machine.state is MachineState.RUNNING and placement != tenant.placement:
                # The engine brought the machine back by itself (restart policy), elsewhere.
                await self._store.set_placement(tenant.id, placement)
                log.info(
                    "tenant %s: container %s now at %s", tenant.slug, short(machine.id), machine.upstream
                )
            return
        if tenant.state is _S.ERROR and not work.backoff.due(tenant.id):
            return
        why = _why_bring_up(tenant, machine)
        if tenant.state not in (_S.PROVISIONING, _S.STARTING, _S.ERROR):
            await self._store.transition(tenant.id, _S.STARTING, why, expect={tenant.state})
        log.info("tenant %s: %s", tenant.slug, why)
        work.jobs.start(tenant.id, JobKind.BRING_UP, work.bring_up(tenant.id))

    async def _converge_stopped(self, tenant: TenantRecord, machine: Machine, running: bool) -> None:
        work = self._work
        if running:
            why = f"its container is {machine.state} though the owner wants it stopped; stopping it"
            if tenant.state is not _S.STOPPING:
                await self._store.transition(tenant.id, _S.STOPPING, why, expect={tenant.state})
        elif tenant.state is _S.STOPPED:
            if machine.id != tenant.machine_id and machine.exists:
                await self._store.set_placement(tenant.id, Placement(machine.id))
            return
        elif tenant.state is _S.ERROR and not work.backoff.due(tenant.id):
            return
        else:
            why = "finishing an interrupted stop"
        log.info("tenant %s: %s", tenant.slug, why)
        work.jobs.start(tenant.id, JobKind.STOP, work.stop(tenant.id))

    async def _converge_absent(self, tenant: TenantRecord) -> None:
        work = self._work
        if not work.backoff.due(tenant.id):
            return
        log.info("tenant %s: finishing its deletion", tenant.slug)
        work.jobs.start(tenant.id, JobKind.DELETE, work.destroy_job(tenant.id))

    async def _remove_duplicate(self, tenant: TenantRecord, machine_id: str) -> None:
        try:
            await self._work.orchestrator.remove_machine(machine_id)
        except OrchestratorError as error:
            log.warning(
                "tenant %s: could not remove its second container %s: %s",
                tenant.slug,
                short(machine_id),
                error.reason,
            )
        else:
            log.info("tenant %s: removed its second container %s", tenant.slug, short(machine_id))


def _why_bring_up(tenant: TenantRecord, machine: Machine) -> str:
    if tenant.state is _S.PROVISIONING:
        return "resuming its interrupted provisioning"
    if tenant.state is _S.ERROR:
        return "trying again after its error"
    if tenant.state is _S.STARTING:
        return "resuming its interrupted start"
    if machine.state is MachineState.ABSENT:
        return "its container was removed outside the App; creating it again"
    if machine.state is MachineState.RUNNING:
        return f"its container is running; checking that it answers {HEALTH_PATH}"
    exit_code = f", exit code {machine.exit_code}" if machine.exit_code is not None else ""
    return f"its container is {machine.state}{exit_code}; starting it again"


def _crash_reason(machine: Machine) -> str | None:
    """Why a container that the engine keeps up is not serving, or None if it looks fine."""
    if machine.state is MachineState.RESTARTING:
        exit_code = f", last exit code {machine.exit_code}" if machine.exit_code is not None else ""
        restarts = f"{machine.restart_count} restarts{exit_code}"
        return f"its container keeps crashing ({restarts}); Docker is restarting it"
    if machine.health is Health.UNHEALTHY:
        return f"its container is running but fails its health check ({HEALTH_PATH})"
    return None
