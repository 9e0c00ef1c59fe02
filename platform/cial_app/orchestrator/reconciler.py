"""Keeping the engine in step with what the App wants: level-triggered, so running it twice
changes nothing.

`plan()` is pure: from the desired tenants and what the engine shows, it computes the actions
that close the gap. `reconcile_once()` observes, plans and executes, and reports what it did.
The App calls it at start and every few seconds; no event is needed, only the two states.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from .base import (
    EngineUnavailable,
    Machine,
    MachineState,
    MachineTemplate,
    Orchestrator,
    OrchestratorError,
    Volume,
    preference,
)


class Desired(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"  # container may stay (stopped); data is kept
    ABSENT = "absent"  # being deleted: container and volume go


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


@dataclass(frozen=True, slots=True)
class Outcome:
    action: Action
    machine: Machine | None = None  # the machine after the action, when it returns one
    error: OrchestratorError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    # Each desired tenant's machine after this round (ABSENT if none): the App syncs its rows
    # (state, container id, port, which changes on every start) from this, in one pass.
    machines: dict[str, Machine] = field(default_factory=dict)

    @property
    def errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]


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


async def reconcile_once(
    orchestrator: Orchestrator,
    desired: Sequence[DesiredTenant],
    template: MachineTemplate,
    *,
    desired_as_of: datetime | None = None,
) -> Report:
    """Observe, plan, execute. One failing action does not stop the others: each outcome carries
    its own error. EngineUnavailable while observing is raised (nothing can be planned); while
    executing, it ends the round (the rest would fail the same way) and is reported per action."""
    as_of = desired_as_of or datetime.now(UTC)
    machines = await orchestrator.list_machines()
    volumes = await orchestrator.list_volumes()
    actions = plan(desired, machines, volumes, desired_as_of=as_of)

    outcomes: list[Outcome] = []
    after: dict[str, Machine] = {}
    engine_down: EngineUnavailable | None = None
    for action in actions:
        if engine_down is not None:
            outcomes.append(Outcome(action, error=engine_down))
            continue
        try:
            machine = await _execute(orchestrator, template, action)
        except EngineUnavailable as exc:
            engine_down = exc
            outcomes.append(Outcome(action, error=exc))
        except OrchestratorError as exc:
            outcomes.append(Outcome(action, error=exc))
        else:
            outcomes.append(Outcome(action, machine=machine))
            if machine is not None:
                after[action.tenant_id] = machine

    observed = {m.tenant_id: m for m in sorted(machines, key=preference, reverse=True)}
    report_machines: dict[str, Machine] = {}
    for tenant in desired:
        fallback = observed.get(tenant.tenant_id) or Machine.absent(tenant.tenant_id)
        report_machines[tenant.tenant_id] = after.get(tenant.tenant_id, fallback)
    return Report(outcomes=outcomes, machines=report_machines)


async def _execute(orchestrator: Orchestrator, template: MachineTemplate, action: Action) -> Machine | None:
    match action.kind:
        case ActionKind.CREATE:
            return await orchestrator.create(template.spec_for(action.tenant_id, action.slug or ""))
        case ActionKind.START:
            return await orchestrator.start(action.tenant_id)
        case ActionKind.STOP:
            return await orchestrator.stop(action.tenant_id)
        case ActionKind.DESTROY:
            await orchestrator.destroy(action.tenant_id)
            return Machine.absent(action.tenant_id)
        case ActionKind.REMOVE_DUPLICATE | ActionKind.REMOVE_ORPHAN_MACHINE:
            await orchestrator.remove_machine(action.target or "")
            return None
        case ActionKind.REMOVE_ORPHAN_VOLUME:
            await orchestrator.remove_volume(action.target or "")
            return None
    raise AssertionError(f"unhandled action {action.kind}")  # pragma: no cover
