"""A tenant's life on the orchestrator: provisioning, the owner's start / stop / restart / delete,
and the reconciler's repairs, all through one place.

The database holds what the owner wants (`desired`) and where the tenant is (`state`, with its
reason); the engine holds the containers. Requests only decide and record; the slow engine work
(create, start and the health wait, stop) runs as the tenant's background job, one at a time
(`Jobs`). A per-tenant lock serialises deciding with the reconciler, so a request and a repair
never both act on one tenant.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from cial_app.errors import NotFound
from cial_app.orchestrator import (
    HEALTH_PATH,
    ActionKind,
    Desired,
    DesiredTenant,
    EngineUnavailable,
    Health,
    Machine,
    MachineNotFound,
    MachineState,
    MachineTemplate,
    Orchestrator,
    OrchestratorError,
    Volume,
    plan,
)
from cial_app.orchestrator.base import preference
from cial_app.provisioning.backoff import Backoff
from cial_app.provisioning.jobs import JobKind, Jobs
from cial_app.provisioning.rules import Verb, Verdict, decide
from cial_app.tenants import rules as tenant_rules
from cial_app.tenants.states import DesiredState, TenantState
from cial_app.tenants.store import StateChanged, TenantRecord, TenantStore

log = logging.getLogger(__name__)

T = TypeVar("T")

# Waits until the machine answers its health check; returns the seconds it took. Raises an
# OrchestratorError (HealthTimeout, MachineCrashed, NoAddress) when it does not.
HealthProbe = Callable[[Machine], Awaitable[float]]

_S = TenantState


@dataclass(frozen=True, slots=True)
class ActionResult:
    tenant: TenantRecord | None  # None: deleted
    changed: bool  # False: nothing to do, the tenant already is (or is becoming) what was asked


@dataclass(frozen=True, slots=True)
class TenantLogs:
    lines: list[str]
    note: str | None = None  # why there are no lines, when there are none for a reason


class Lifecycle:
    def __init__(
        self,
        store: TenantStore,
        orchestrator: Orchestrator,
        template: MachineTemplate,
        health: HealthProbe,
        *,
        jobs: Jobs | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self._store = store
        self.orchestrator = orchestrator
        self._template = template
        self._health = health
        self.jobs = jobs or Jobs()
        self.backoff = backoff or Backoff(first=5.0)
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}

    def lock(self, tenant_id: uuid.UUID) -> asyncio.Lock:
        return self._locks.setdefault(tenant_id, asyncio.Lock())

    # ------------------------------------------------------------------- what the owner asks for

    async def provision(self, tenant: TenantRecord) -> None:
        """A new tenant's row is stored in `provisioning`: bring it up in the background."""
        async with self.lock(tenant.id):
            self.jobs.start(tenant.id, JobKind.BRING_UP, self._bring_up(tenant.id))
        log.info("tenant %s: provisioning", tenant.slug)

    async def start(self, slug: str) -> ActionResult:
        return await self._bring_up_action(Verb.START, slug, "start asked by the owner")

    async def restart(self, slug: str) -> ActionResult:
        return await self._bring_up_action(Verb.RESTART, slug, "restart asked by the owner")

    async def stop(self, slug: str) -> ActionResult:
        tenant = await self._get(slug)
        async with self.lock(tenant.id):
            tenant = await self._reread(tenant)
            if decide(Verb.STOP, tenant.state, tenant.slug) is Verdict.NOOP:
                return ActionResult(tenant, changed=False)
            await self.jobs.cancel(tenant.id)  # a retry of a tenant in error, if one runs
            tenant = await self._store.transition(
                tenant.id, _S.STOPPING, "stop asked by the owner", desired=DesiredState.STOPPED
            )
            self.backoff.clear(tenant.id)
            self.jobs.start(tenant.id, JobKind.STOP, self._stop(tenant.id))
        log.info("tenant %s: stopping (asked by the owner)", tenant.slug)
        return ActionResult(tenant, changed=True)

    async def delete(self, slug: str) -> ActionResult:
        """Remove the tenant's container and volume, then its row. When the engine cannot do it
        now, the tenant stays `deleting` with the reason, and the reconciler finishes the job."""
        tenant = await self._get(slug)
        async with self.lock(tenant.id):
            tenant = await self._reread(tenant)
            # Whatever runs for it (a provisioning, say) is moot now; its engine call finishes first.
            await self.jobs.cancel(tenant.id)
            if decide(Verb.DELETE, tenant.state, tenant.slug) is Verdict.GO:
                tenant = await self._store.transition(
                    tenant.id, _S.DELETING, "deletion asked by the owner", desired=DesiredState.ABSENT
                )
            self.backoff.clear(tenant.id)
            gone = await self._destroy(tenant)
        return ActionResult(None if gone else await self._store.by_id(tenant.id), changed=True)

    async def logs(self, tenant: TenantRecord, tail: int = 100) -> TenantLogs:
        try:
            return TenantLogs(await self.orchestrator.logs(str(tenant.id), tail))
        except MachineNotFound:
            return TenantLogs([], "The tenant has no container at the moment.")
        except OrchestratorError as error:
            return TenantLogs([], f"The logs cannot be read now: {error.reason}")

    async def _bring_up_action(self, verb: Verb, slug: str, why: str) -> ActionResult:
        tenant = await self._get(slug)
        async with self.lock(tenant.id):
            tenant = await self._reread(tenant)
            if decide(verb, tenant.state, tenant.slug) is Verdict.NOOP:
                return ActionResult(tenant, changed=False)
            await self.jobs.cancel(tenant.id)
            tenant = await self._store.transition(tenant.id, _S.STARTING, why, desired=DesiredState.RUNNING)
            self.backoff.clear(tenant.id)
            self.jobs.start(
                tenant.id, JobKind.BRING_UP, self._bring_up(tenant.id, restart=verb is Verb.RESTART)
            )
        log.info("tenant %s: starting (%s)", tenant.slug, why)
        return ActionResult(tenant, changed=True)

    # ------------------------------------------------------------------- what the reconciler asks

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
        lock = self.lock(tenant_id)
        if lock.locked() or self.jobs.busy(tenant_id):
            return
        async with lock:
            tenant = await self._store.by_id(tenant_id)
            if tenant is None or tenant.updated_at > observed_at:
                return
            wanted = DesiredTenant(str(tenant.id), tenant.slug, Desired(tenant.desired.value))
            actions = plan([wanted], machines, volumes)
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
        for tenant_id in tenant_ids:
            lock = self.lock(tenant_id)
            if lock.locked() or self.jobs.busy(tenant_id):
                continue
            async with lock:
                tenant = await self._store.by_id(tenant_id)
                if tenant is None or tenant.desired is not DesiredState.RUNNING:
                    continue
                if tenant.state is _S.ERROR and tenant.state_reason == error.reason:
                    continue
                await self._store.transition(tenant.id, _S.ERROR, error.reason, expect={tenant.state})
                log.warning("tenant %s: error: %s", tenant.slug, error.reason)

    async def _converge_running(self, tenant: TenantRecord, machine: Machine, needs_engine: bool) -> None:
        if not needs_engine and tenant.state is _S.RUNNING:
            crash = _crash_reason(machine)
            if crash is not None:
                # Docker's restart policy keeps bringing it back, so no action is planned; but a
                # tenant that does not serve must not be shown as `running`. From `error` the next
                # due round waits for it to answer again, and it returns to `running` on its own.
                await self._store.transition(tenant.id, _S.ERROR, crash, expect={_S.RUNNING})
                log.warning("tenant %s: error: %s", tenant.slug, crash)
                return
            if machine.state is MachineState.RUNNING and (machine.id, machine.host_port) != (
                tenant.container_id,
                tenant.container_port,
            ):
                # Docker's restart policy brought the container back, on a new port.
                await self._store.set_container(tenant.id, machine.id, machine.host_port)
                log.info(
                    "tenant %s: container %s now on port %s",
                    tenant.slug,
                    _short(machine.id),
                    machine.host_port,
                )
            return
        if tenant.state is _S.ERROR and not self.backoff.due(tenant.id):
            return
        why = _why_bring_up(tenant, machine)
        if tenant.state not in (_S.PROVISIONING, _S.STARTING, _S.ERROR):
            await self._store.transition(tenant.id, _S.STARTING, why, expect={tenant.state})
        log.info("tenant %s: %s", tenant.slug, why)
        self.jobs.start(tenant.id, JobKind.BRING_UP, self._bring_up(tenant.id))

    async def _converge_stopped(self, tenant: TenantRecord, machine: Machine, running: bool) -> None:
        if running:
            why = f"its container is {machine.state} though the owner wants it stopped; stopping it"
            if tenant.state is not _S.STOPPING:
                await self._store.transition(tenant.id, _S.STOPPING, why, expect={tenant.state})
        elif tenant.state is _S.STOPPED:
            if machine.id != tenant.container_id and machine.exists:
                await self._store.set_container(tenant.id, machine.id, None)
            return
        elif tenant.state is _S.ERROR and not self.backoff.due(tenant.id):
            return
        else:
            why = "finishing an interrupted stop"
        log.info("tenant %s: %s", tenant.slug, why)
        self.jobs.start(tenant.id, JobKind.STOP, self._stop(tenant.id))

    async def _converge_absent(self, tenant: TenantRecord) -> None:
        if not self.backoff.due(tenant.id):
            return
        log.info("tenant %s: finishing its deletion", tenant.slug)
        self.jobs.start(tenant.id, JobKind.DELETE, self._destroy_job(tenant.id))

    async def _remove_duplicate(self, tenant: TenantRecord, machine_id: str) -> None:
        try:
            await self.orchestrator.remove_machine(machine_id)
        except OrchestratorError as error:
            log.warning(
                "tenant %s: could not remove its second container %s: %s",
                tenant.slug,
                machine_id[:12],
                error.reason,
            )
        else:
            log.info("tenant %s: removed its second container %s", tenant.slug, machine_id[:12])

    # ---------------------------------------------------------------------------------- the jobs

    async def _bring_up(self, tenant_id: uuid.UUID, *, restart: bool = False) -> None:
        """Create or start the container (idempotent: `create` adopts what exists), then wait
        until it answers its health check: `starting`, then `running`; or `error` with why."""
        tenant = await self._store.by_id(tenant_id)
        if tenant is None or tenant.desired is not DesiredState.RUNNING:
            return
        spec = self._template.spec_for(str(tenant.id), tenant.slug)
        try:
            if restart:
                await self._engine(self.orchestrator.stop(str(tenant.id)))
            machine = await self._engine(self.orchestrator.create(spec))
            if tenant.state is _S.STARTING:
                await self._store.set_container(tenant.id, machine.id, machine.host_port)
            else:
                await self._store.transition(
                    tenant.id,
                    _S.STARTING,
                    f"container {_short(machine.id)} is up; waiting for it to answer {HEALTH_PATH}",
                    container_id=machine.id,
                    container_port=machine.host_port,
                    expect={tenant.state},
                )
            seconds = await self._health(machine)
            await self._store.transition(
                tenant.id,
                _S.RUNNING,
                f"answered {HEALTH_PATH} after {seconds:.1f} s",
                container_id=machine.id,
                container_port=machine.host_port,
                expect={_S.STARTING},
            )
        except OrchestratorError as error:
            await self._failed(tenant, error)
            return
        except (StateChanged, NotFound):
            return  # moved or deleted meanwhile: whoever did it owns the tenant now
        self.backoff.clear(tenant.id)
        log.info(
            "tenant %s: running on port %s (healthy after %.1f s)", tenant.slug, machine.host_port, seconds
        )

    async def _stop(self, tenant_id: uuid.UUID) -> None:
        tenant = await self._store.by_id(tenant_id)
        if tenant is None or tenant.desired is not DesiredState.STOPPED:
            return
        try:
            machine = await self._engine(self.orchestrator.stop(str(tenant.id)))
            await self._store.transition(
                tenant.id,
                _S.STOPPED,
                "container stopped" if machine.exists else "no container to stop",
                container_id=machine.id,
                container_port=None,
                expect={tenant.state},
            )
        except OrchestratorError as error:
            await self._failed(tenant, error)
            return
        except (StateChanged, NotFound):
            return
        self.backoff.clear(tenant.id)
        log.info("tenant %s: stopped", tenant.slug)

    async def _destroy_job(self, tenant_id: uuid.UUID) -> None:
        tenant = await self._store.by_id(tenant_id)
        if tenant is not None and tenant.desired is DesiredState.ABSENT:
            await self._destroy(tenant)

    async def _destroy(self, tenant: TenantRecord) -> bool:
        """Container and volume, then the row; False (and the reason recorded) if the engine failed."""
        try:
            await self._engine(self.orchestrator.destroy(str(tenant.id)))
        except OrchestratorError as error:
            await self._failed(tenant, error)
            return False
        await self._store.delete(tenant.id)
        self.backoff.clear(tenant.id)
        log.info("tenant %s (%s): deleted with its container and volume", tenant.slug, tenant.id)
        return True

    async def _failed(self, tenant: TenantRecord, error: OrchestratorError) -> None:
        """Record why the engine work failed, once: a retry that fails the same way writes nothing."""
        # An unreachable engine is retried as soon as it answers again; anything else waits longer each time.
        delay = None if isinstance(error, EngineUnavailable) else self.backoff.failed(tenant.id)
        retry = "" if delay is None else f" (next try in {delay:g} s)"
        current = await self._store.by_id(tenant.id)
        if current is None:
            return
        # A tenant being deleted stays `deleting`: the reason says what holds it up.
        to_state = _S.DELETING if current.desired is DesiredState.ABSENT else _S.ERROR
        if current.state is to_state and current.state_reason == error.reason:
            log.info("tenant %s: still failing: %s%s", tenant.slug, error.reason, retry)
            return
        try:
            await self._store.transition(tenant.id, to_state, error.reason, expect={current.state})
        except (StateChanged, NotFound):
            return
        log.warning("tenant %s: %s: %s%s", tenant.slug, to_state, error.reason, retry)

    # -------------------------------------------------------------------------------- plumbing

    async def _engine(self, call: Awaitable[T]) -> T:
        """Await an engine call that a cancellation does not cut short.

        Cancelling a job (the owner deletes a tenant being provisioned, the App shuts down) lets
        the engine call in flight finish first, so whatever runs next for the tenant sees its
        result rather than a container half made. A second cancellation stops waiting."""
        task = asyncio.ensure_future(call)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            await asyncio.wait([task])
            if not task.cancelled():
                task.exception()  # retrieved: the job is over, nobody else will look at it
            raise

    async def _get(self, slug: str) -> TenantRecord:
        tenant = await self._store.by_slug(slug) if tenant_rules.could_be_slug(slug) else None
        if tenant is None:
            raise NotFound(f"No tenant has the slug '{slug}'.")
        return tenant

    async def _reread(self, tenant: TenantRecord) -> TenantRecord:
        fresh = await self._store.by_id(tenant.id)
        if fresh is None:
            raise NotFound(f"No tenant has the slug '{tenant.slug}'.")
        return fresh


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


def _short(container_id: str | None) -> str:
    return (container_id or "?")[:12]
