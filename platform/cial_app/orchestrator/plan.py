"""Keeping the engine in step with what the App wants: level-triggered, so running it twice
changes nothing.

`plan()` is pure: from the desired tenants and what the engine shows, it computes the actions
that close the gap. The App's reconcile loop (`provisioning.reconcile_loop`) observes, plans, and
carries the actions out through the tenant's own lock and job slot.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .base import Desired, Machine, MachineState, Volume, preference


@dataclass(frozen=True, slots=True)
class DesiredTenant:
    tenant_id: str
    slug: str
    desired: Desired


class ActionKind(StrEnum):
    CREATE = "create"
    START = "start"
    STOP = "stop"
    DESTROY = "destroy"
    REMOVE_DUPLICATE = "remove-duplicate"
    # A running machine of a tenant the App does not know: stopped and kept (quarantine).
    STOP_ORPHAN = "stop-orphan"


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    tenant_id: str
    slug: str | None = None
    target: str | None = None  # machine id or volume name, for removals of one object
    why: str = ""


# The states in which desired=running needs a start; RESTARTING is left to the engine's policy,
# REMOVING is transient (the next round sees the result).
_STARTABLE = frozenset({MachineState.CREATED, MachineState.STOPPED, MachineState.EXITED, MachineState.PAUSED})
_STOPPABLE = frozenset({MachineState.RUNNING, MachineState.RESTARTING, MachineState.PAUSED})


def plan(
    desired: Iterable[DesiredTenant],
    machines: Iterable[Machine],
    volumes: Iterable[Volume],
    *,
    desired_as_of: datetime | None = None,
) -> list[Action]:
    """The actions that bring `machines` and `volumes` to `desired`, in a safe order.

    Anything labelled for a tenant the App does not know is an orphan. Orphans are never removed
    here: the tenants table may be empty, restored from an old backup or another App's, and
    deleting whatever it does not list would wipe every tenant's data in one round. A running
    orphan is stopped (it serves nobody: the router routes only tenants in the table) and kept
    with its volume, for the owner to restore or delete (`tenants.quarantine`). An orphan created
    after `desired_as_of` (the moment the caller read its tenants) may belong to a tenant created
    since, so it is left alone for the next round."""
    wanted = {d.tenant_id: d for d in desired}
    by_tenant: dict[str, list[Machine]] = defaultdict(list)
    for machine in machines:
        by_tenant[machine.tenant_id].append(machine)
    volumes_by_tenant: dict[str, list[Volume]] = defaultdict(list)
    for volume in volumes:
        volumes_by_tenant[volume.tenant_id].append(volume)

    actions: list[Action] = []
    for tenant_id, found in sorted(by_tenant.items()):
        if tenant_id in wanted:
            continue
        if any(m.state in _STOPPABLE and not _newer(m.created_at, desired_as_of) for m in found):
            slug = next((m.slug for m in found if m.slug), None)
            actions.append(Action(ActionKind.STOP_ORPHAN, tenant_id, slug, why="no tenant has this id"))
    for tenant in sorted(wanted.values(), key=lambda d: d.tenant_id):
        found = sorted(by_tenant.get(tenant.tenant_id, []), key=preference)
        if tenant.desired is Desired.ABSENT:
            if found or volumes_by_tenant.get(tenant.tenant_id):
                actions.append(
                    Action(ActionKind.DESTROY, tenant.tenant_id, tenant.slug, why="tenant deleted")
                )
            continue
        keep, extras = (found[0], found[1:]) if found else (None, [])
        for extra in extras:
            actions.append(
                Action(
                    ActionKind.REMOVE_DUPLICATE,
                    tenant.tenant_id,
                    tenant.slug,
                    extra.id,
                    f"second container for the tenant (kept {keep.name if keep else '?'})",
                )
            )
        actions.extend(_converge(tenant, keep))
    return actions


def _converge(tenant: DesiredTenant, machine: Machine | None) -> list[Action]:
    state = machine.state if machine is not None else MachineState.ABSENT
    if tenant.desired is Desired.RUNNING:
        if state in (MachineState.ABSENT, MachineState.DEAD):
            return [
                Action(ActionKind.CREATE, tenant.tenant_id, tenant.slug, why=f"wanted running, is {state}")
            ]
        if state in _STARTABLE:
            return [
                Action(ActionKind.START, tenant.tenant_id, tenant.slug, why=f"wanted running, is {state}")
            ]
    elif tenant.desired is Desired.STOPPED and state in _STOPPABLE:
        return [Action(ActionKind.STOP, tenant.tenant_id, tenant.slug, why=f"wanted stopped, is {state}")]
    return []


def _newer(created: datetime | None, as_of: datetime | None) -> bool:
    return as_of is not None and created is not None and created > as_of
