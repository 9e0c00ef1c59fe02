"""What the owner asks of a tenant: provision it, start, stop, restart, delete it, read its logs.

Requests only decide (with `rules.decide`) and record; the slow engine work runs as the tenant's
background job (`TenantWork`), one at a time. Deciding holds the tenant's lock, so a request and
a reconciler repair never both act on one tenant.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cial_app.errors import NotFound
from cial_app.orchestrator import MachineNotFound, OrchestratorError
from cial_app.provisioning.jobs import JobKind
from cial_app.provisioning.rules import Verb, Verdict, decide
from cial_app.provisioning.work import TenantWork
from cial_app.tenants.states import DesiredState, TenantState
from cial_app.tenants.store import TenantRecord

log = logging.getLogger(__name__)

_S = TenantState


@dataclass(frozen=True, slots=True)
class ActionResult:
    tenant: TenantRecord | None  # None: deleted
    changed: bool  # False: nothing to do, the tenant already is (or is becoming) what was asked


@dataclass(frozen=True, slots=True)
class TenantLogs:
    lines: list[str]
    note: str | None = None  # why there are no lines, when there are none for a reason


class OwnerActions:
    def __init__(self, work: TenantWork) -> None:
        self._work = work
        self._store = work.store

    async def provision(self, tenant: TenantRecord) -> None:
        """A new tenant's row is stored in `provisioning`: bring it up in the background."""
        async with self._work.lock(tenant.id):
            self._work.jobs.start(tenant.id, JobKind.BRING_UP, self._work.bring_up(tenant.id))
        log.info("tenant %s: provisioning", tenant.slug)

    async def start(self, tenant: TenantRecord) -> ActionResult:
        return await self._bring_up(Verb.START, tenant, "start asked by the owner")

    async def restart(self, tenant: TenantRecord) -> ActionResult:
        return await self._bring_up(Verb.RESTART, tenant, "restart asked by the owner")

    async def stop(self, tenant: TenantRecord) -> ActionResult:
        work = self._work
        async with work.lock(tenant.id):
            tenant = await self._reread(tenant)
            if decide(Verb.STOP, tenant.state, tenant.slug) is Verdict.NOOP:
                return ActionResult(tenant, changed=False)
            await work.jobs.cancel(tenant.id)  # a retry of a tenant in error, if one runs
            tenant = await self._store.transition(
                tenant.id, _S.STOPPING, "stop asked by the owner", desired=DesiredState.STOPPED
            )
            work.backoff.clear(tenant.id)
            work.jobs.start(tenant.id, JobKind.STOP, work.stop(tenant.id))
        log.info("tenant %s: stopping (asked by the owner)", tenant.slug)
        return ActionResult(tenant, changed=True)

    async def idle(self, tenant: TenantRecord) -> ActionResult:
        """The router saw no traffic for the tenant's idle time: stop its machine, keep wanting it
        running. Refused (409, with why) unless the tenant is serving."""
        work = self._work
        async with work.lock(tenant.id):
            tenant = await self._reread(tenant)
            if decide(Verb.IDLE, tenant.state, tenant.slug) is Verdict.NOOP:
                return ActionResult(tenant, changed=False)
            tenant = await self._store.transition(
                tenant.id, _S.IDLING, "unused for its idle time; stopping it", expect={_S.RUNNING}
            )
            work.jobs.start(tenant.id, JobKind.STOP_IDLE, work.stop_idle(tenant.id))
        log.info("tenant %s: idling (no traffic for its idle time)", tenant.slug)
        return ActionResult(tenant, changed=True)

    async def wake(self, tenant: TenantRecord) -> ActionResult:
        """A request for the tenant reached the router: bring it up unless it is up or coming up.
        A stop for idleness still running finishes its engine call first, then the start runs."""
        return await self._bring_up(Verb.WAKE, tenant, "a request arrived through the router")

    async def delete(self, tenant: TenantRecord) -> ActionResult:
        """Remove the tenant's container and volume, then its row. When the engine cannot do it
        now, the tenant stays `deleting` with the reason, and the reconciler finishes the job."""
        work = self._work
        async with work.lock(tenant.id):
            tenant = await self._reread(tenant)
            # Whatever runs for it (a provisioning, say) is moot now; its engine call finishes first.
            await work.jobs.cancel(tenant.id)
            if decide(Verb.DELETE, tenant.state, tenant.slug) is Verdict.GO:
                tenant = await self._store.transition(
                    tenant.id, _S.DELETING, "deletion asked by the owner", desired=DesiredState.ABSENT
                )
            work.backoff.clear(tenant.id)
            gone = await work.destroy(tenant)
        return ActionResult(None if gone else await self._store.by_id(tenant.id), changed=True)

    async def logs(self, tenant: TenantRecord, tail: int = 100) -> TenantLogs:
        try:
            return TenantLogs(await self._work.orchestrator.logs(str(tenant.id), tail))
        except MachineNotFound:
            return TenantLogs([], "The tenant has no container at the moment.")
        except OrchestratorError as error:
            return TenantLogs([], f"The logs cannot be read now: {error.reason}")

    async def _bring_up(self, verb: Verb, tenant: TenantRecord, why: str) -> ActionResult:
        work = self._work
        async with work.lock(tenant.id):
            tenant = await self._reread(tenant)
            if decide(verb, tenant.state, tenant.slug) is Verdict.NOOP:
                return ActionResult(tenant, changed=False)
            await work.jobs.cancel(tenant.id)
            tenant = await self._store.transition(tenant.id, _S.STARTING, why, desired=DesiredState.RUNNING)
            work.backoff.clear(tenant.id)
            bring_up = work.bring_up(tenant.id, restart=verb is Verb.RESTART)
            work.jobs.start(tenant.id, JobKind.BRING_UP, bring_up)
        log.info("tenant %s: starting (%s)", tenant.slug, why)
        return ActionResult(tenant, changed=True)

    async def _reread(self, tenant: TenantRecord) -> TenantRecord:
        fresh = await self._store.by_id(tenant.id)
        if fresh is None:
            raise NotFound(f"No tenant has the slug '{tenant.slug}'.")
        return fresh
