"""The slow engine work on one tenant, run as its background job: bring it up (create or start,
then wait for its health check), stop it, destroy it. Shared by the owner's actions and the
reconciler's repairs, with the per-tenant lock that keeps them from acting on a tenant at once."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from cial_app.errors import NotFound
from cial_app.orchestrator import HEALTH_PATH, Machine, MachineTemplate, Orchestrator, OrchestratorError
from cial_app.provisioning.backoff import Backoff
from cial_app.provisioning.failures import record_failure
from cial_app.provisioning.jobs import Jobs
from cial_app.provisioning.start_slots import StartSlots, default_start_slots
from cial_app.tenants.states import DesiredState, TenantState
from cial_app.tenants.store import Placement, StateChanged, TenantRecord, TenantStore

log = logging.getLogger(__name__)

T = TypeVar("T")

# Waits until the machine answers its health check; returns the seconds it took. Raises an
# OrchestratorError (HealthTimeout, MachineCrashed, NoAddress) when it does not.
HealthProbe = Callable[[Machine], Awaitable[float]]
# The environment one tenant's machine gets besides the template's (its SSO key, ...). Values may
# be secrets: they go to the engine and nowhere else (no log line, no error message).
MachineEnv = Callable[[TenantRecord], Mapping[str, str]]


def _no_env(_: TenantRecord) -> Mapping[str, str]:
    return {}


_S = TenantState


class TenantWork:
    def __init__(
        self,
        store: TenantStore,
        orchestrator: Orchestrator,
        template: MachineTemplate,
        health: HealthProbe,
        *,
        jobs: Jobs | None = None,
        backoff: Backoff | None = None,
        machine_env: MachineEnv = _no_env,
        start_slots: StartSlots | None = None,
    ) -> None:
        self.store = store
        self.orchestrator = orchestrator
        self._template = template
        self._health = health
        self._machine_env = machine_env
        self.jobs = jobs or Jobs()
        self.backoff = backoff or Backoff(first=5.0)
        self.start_slots = start_slots or StartSlots(default_start_slots())
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}

    def lock(self, tenant_id: uuid.UUID) -> asyncio.Lock:
        """Held while deciding what to do with a tenant (never while its job runs)."""
        return self._locks.setdefault(tenant_id, asyncio.Lock())

    async def bring_up(self, tenant_id: uuid.UUID, *, restart: bool = False) -> None:
        """Create or start the machine (idempotent: `create` adopts what exists), then wait
        until it answers its health check: `starting`, then `running`; or `error` with why."""
        tenant = await self.store.by_id(tenant_id)
        if tenant is None or tenant.desired is not DesiredState.RUNNING:
            return
        slots = self.start_slots
        if slots.full:
            try:
                await self.store.transition(
                    tenant.id,
                    tenant.state,
                    f"waiting to start: {slots.starting} tenants are starting, "
                    f"{slots.waiting + 1} waiting (at most {slots.limit} start at once)",
                    expect={tenant.state},
                )
            except (StateChanged, NotFound):
                return
        async with slots.held():
            await self._bring_up(tenant_id, restart=restart)

    async def _bring_up(self, tenant_id: uuid.UUID, *, restart: bool) -> None:
        tenant = await self.store.by_id(tenant_id)  # again: it may have changed while it waited
        if tenant is None or tenant.desired is not DesiredState.RUNNING:
            return
        spec = self._template.spec_for(str(tenant.id), tenant.slug, self._machine_env(tenant))
        try:
            if restart:
                await self.engine(self.orchestrator.stop(str(tenant.id)))
            machine = await self.engine(self.orchestrator.create(spec))
            # Not routable yet: the upstream is stored with `running`, once the tenant answers.
            waiting = Placement(machine.id, published_port=machine.published_port)
            if tenant.state is _S.STARTING:
                await self.store.set_placement(tenant.id, waiting)
            else:
                await self.store.transition(
                    tenant.id,
                    _S.STARTING,
                    f"container {short(machine.id)} is up; waiting for it to answer {HEALTH_PATH}",
                    placement=waiting,
                    expect={tenant.state},
                )
            seconds = await self._health(machine)
            await self.store.transition(
                tenant.id,
                _S.RUNNING,
                f"answered {HEALTH_PATH} after {seconds:.1f} s",
                placement=Placement.of(machine),
                expect={_S.STARTING},
            )
        except OrchestratorError as error:
            await self.failed(tenant, error)
            return
        except (StateChanged, NotFound):
            return  # moved or deleted meanwhile: whoever did it owns the tenant now
        self.backoff.clear(tenant.id)
        log.info("tenant %s: running at %s (healthy after %.1f s)", tenant.slug, machine.upstream, seconds)

    async def stop(self, tenant_id: uuid.UUID) -> None:
        tenant = await self.store.by_id(tenant_id)
        if tenant is None or tenant.desired is not DesiredState.STOPPED:
            return
        try:
            machine = await self.engine(self.orchestrator.stop(str(tenant.id)))
            await self.store.transition(
                tenant.id,
                _S.STOPPED,
                "container stopped" if machine.exists else "no container to stop",
                placement=Placement(machine.id),
                expect={tenant.state},
            )
        except OrchestratorError as error:
            await self.failed(tenant, error)
            return
        except (StateChanged, NotFound):
            return
        self.backoff.clear(tenant.id)
        log.info("tenant %s: stopped", tenant.slug)

    async def stop_idle(self, tenant_id: uuid.UUID) -> None:
        """Stop the machine of a tenant nobody is using (`idling` -> `idle`); what the owner wants
        stays `running`, so the next request wakes it and the reconciler leaves it stopped."""
        tenant = await self.store.by_id(tenant_id)
        if tenant is None or tenant.state is not _S.IDLING:
            return
        try:
            machine = await self.engine(self.orchestrator.stop(str(tenant.id)))
            await self.store.transition(
                tenant.id,
                _S.IDLE,
                "stopped after its idle time; the next request through the router starts it",
                placement=Placement(machine.id),
                expect={_S.IDLING},
            )
        except OrchestratorError as error:
            await self.failed(tenant, error)
            return
        except (StateChanged, NotFound):
            return
        log.info("tenant %s: idle (stopped)", tenant.slug)

    async def destroy_job(self, tenant_id: uuid.UUID) -> None:
        tenant = await self.store.by_id(tenant_id)
        if tenant is not None and tenant.desired is DesiredState.ABSENT:
            await self.destroy(tenant)

    async def destroy(self, tenant: TenantRecord) -> bool:
        """Container and volume, then the row; False (and the reason recorded) if the engine failed."""
        try:
            await self.engine(self.orchestrator.destroy(str(tenant.id)))
        except OrchestratorError as error:
            await self.failed(tenant, error)
            return False
        await self.store.delete(tenant.id)
        self.backoff.clear(tenant.id)
        log.info("tenant %s (%s): deleted with its container and volume", tenant.slug, tenant.id)
        return True

    async def failed(self, tenant: TenantRecord, error: OrchestratorError) -> None:
        await record_failure(self.store, self.backoff, tenant, error)

    async def engine(self, call: Awaitable[T]) -> T:
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


def short(machine_id: str | None) -> str:
    return (machine_id or "?")[:12]
