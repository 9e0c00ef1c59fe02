"""Failure bookkeeping: what a tenant shows when engine work on it fails, and when it is tried again."""

from __future__ import annotations

import logging

from cial_app.errors import NotFound
from cial_app.orchestrator import EngineUnavailable, OrchestratorError
from cial_app.provisioning.backoff import Backoff
from cial_app.tenants.states import DesiredState, TenantState
from cial_app.tenants.store import StateChanged, TenantRecord, TenantStore

log = logging.getLogger(__name__)


async def record_failure(
    store: TenantStore, backoff: Backoff, tenant: TenantRecord, error: OrchestratorError
) -> None:
    """Record why the engine work failed, once: a retry that fails the same way writes nothing.

    An unreachable engine is retried as soon as it answers again; anything else waits longer
    each time (`backoff`). A tenant being deleted stays `deleting`, the reason saying what holds
    it up; any other goes to `error`."""
    delay = None if isinstance(error, EngineUnavailable) else backoff.failed(tenant.id)
    retry = "" if delay is None else f" (next try in {delay:g} s)"
    current = await store.by_id(tenant.id)
    if current is None:
        return
    to_state = TenantState.DELETING if current.desired is DesiredState.ABSENT else TenantState.ERROR
    if current.state is to_state and current.state_reason == error.reason:
        log.info("tenant %s: still failing: %s%s", tenant.slug, error.reason, retry)
        return
    try:
        await store.transition(tenant.id, to_state, error.reason, expect={current.state})
    except (StateChanged, NotFound):
        return
    log.warning("tenant %s: %s: %s%s", tenant.slug, to_state, error.reason, retry)
