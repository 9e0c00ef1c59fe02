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
    REMOVE_ORPHAN_MACHINE = "remove-orphan-machine"
    REMOVE_ORPHAN_VOLUME = "remove-orphan-volume"


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

    Anything labelled for a tenant the App does not know is an orphan and is removed, unless it
    was created after `desired_as_of` (the moment the caller read its tenants): such a resource may
    belong to a tenant created since, so it is left for the next round rather than destroyed."""
    wanted = {d.tenant_id: d for d in desired}
    by_tenant: dict[str, list[Machine]] = defaultdict(list)
    for machine in machines:
        by_tenant[machine.tenant_id].append(machine)
    volumes_by_tenant: dict[str, list[Volume]] = defaultdict(list)
    for volume in volumes:
        volumes_by_tenant[volume.tenant_id].append(volume)

    actions: list[Action] = []
    # Orphans first, containers before volumes: a volume cannot be removed while mounted.
    for tenant_id, found in sorted(by_tenant.items()):
        if tenant_id in wanted:
            continue
        for machine in found:
            if _newer(machine.created_at, desired_as_of):
                continue
            actions.append(
                Action(
                    ActionKind.REMOVE_ORPHAN_MACHINE,
                    tenant_id,
                    machine.slug,
                    machine.id,
                    "no tenant has this id",
                )
            )
    for tenant_id, vols in sorted(volumes_by_tenant.items()):
        if tenant_id in wanted:
            continue
        for volume in vols:
            if _newer(volume.created_at, desired_as_of):
                continue
            # A volume still mounted by an orphan created too recently to remove must stay too.
            if any(
                m.volume == volume.name
                for m in by_tenant.get(tenant_id, [])
                if _newer(m.created_at, desired_as_of)
            ):
                continue
            actions.append(
                Action(
                    ActionKind.REMOVE_ORPHAN_VOLUME,
                    tenant_id,
                    volume.slug,
                    volume.name,
                    "no tenant has this id",
                )
            )

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
