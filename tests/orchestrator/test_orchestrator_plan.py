"""The reconciler's plan: a pure function from (desired, observed) to actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cial_app.orchestrator import (
    Action,
    ActionKind,
    Desired,
    DesiredTenant,
    Machine,
    MachineState,
    Volume,
    plan,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(minutes=5)


def machine(
    tenant_id: str, state: MachineState, *, id: str | None = None, created: datetime = EARLIER
) -> Machine:
    return Machine(
        tenant_id=tenant_id,
        slug=f"slug-{tenant_id}",
        state=state,
        id=id or f"c-{tenant_id}-{state}",
        name=f"cial-tenant-slug-{tenant_id}",
        volume=f"cial-tenant-{tenant_id}-data",
        created_at=created,
    )


def volume(tenant_id: str, *, created: datetime = EARLIER) -> Volume:
    return Volume(name=f"cial-tenant-{tenant_id}-data", tenant_id=tenant_id, created_at=created)


def want(tenant_id: str, desired: Desired) -> DesiredTenant:
    return DesiredTenant(tenant_id=tenant_id, slug=f"slug-{tenant_id}", desired=desired)


def kinds(actions: list[Action]) -> list[tuple[ActionKind, str]]:
    return [(a.kind, a.tenant_id) for a in actions]


class TestWantedRunning:
    def test_a_tenant_without_a_container_is_created(self) -> None:
        assert kinds(plan([want("1", Desired.RUNNING)], [], [])) == [(ActionKind.CREATE, "1")]

    def test_the_create_action_carries_the_slug_for_the_spec(self) -> None:
        (action,) = plan([want("1", Desired.RUNNING)], [], [])
        assert action.slug == "slug-1"

    def test_a_running_tenant_needs_nothing(self) -> None:
        assert plan([want("1", Desired.RUNNING)], [machine("1", MachineState.RUNNING)], [volume("1")]) == []

    def test_a_restarting_tenant_is_left_to_the_engine(self) -> None:
        assert (
            plan([want("1", Desired.RUNNING)], [machine("1", MachineState.RESTARTING)], [volume("1")]) == []
        )

    @pytest.mark.parametrize(
        "state", [MachineState.CREATED, MachineState.STOPPED, MachineState.EXITED, MachineState.PAUSED]
    )
    def test_a_tenant_that_is_not_up_is_started(self, state: MachineState) -> None:
        actions = plan([want("1", Desired.RUNNING)], [machine("1", state)], [volume("1")])
        assert kinds(actions) == [(ActionKind.START, "1")]

    def test_a_dead_container_is_replaced_by_create(self) -> None:
        actions = plan([want("1", Desired.RUNNING)], [machine("1", MachineState.DEAD)], [volume("1")])
        assert kinds(actions) == [(ActionKind.CREATE, "1")]

    def test_a_container_being_removed_is_left_for_the_next_round(self) -> None:
        assert plan([want("1", Desired.RUNNING)], [machine("1", MachineState.REMOVING)], [volume("1")]) == []

    def test_a_second_container_is_removed_and_the_running_one_kept(self) -> None:
        running = machine("1", MachineState.RUNNING, id="keep")
        stale = machine("1", MachineState.EXITED, id="extra", created=NOW - timedelta(seconds=1))
        actions = plan([want("1", Desired.RUNNING)], [stale, running], [volume("1")])
        assert [(a.kind, a.target) for a in actions] == [(ActionKind.REMOVE_DUPLICATE, "extra")]


class TestWantedStopped:
    @pytest.mark.parametrize("state", [MachineState.RUNNING, MachineState.RESTARTING, MachineState.PAUSED])
    def test_a_tenant_that_is_up_is_stopped(self, state: MachineState) -> None:
        actions = plan([want("1", Desired.STOPPED)], [machine("1", state)], [volume("1")])
        assert kinds(actions) == [(ActionKind.STOP, "1")]

    @pytest.mark.parametrize("state", [MachineState.STOPPED, MachineState.EXITED, MachineState.CREATED])
    def test_a_tenant_that_is_down_needs_nothing(self, state: MachineState) -> None:
        assert plan([want("1", Desired.STOPPED)], [machine("1", state)], [volume("1")]) == []

    def test_a_stopped_tenant_without_container_is_not_created(self) -> None:
        assert plan([want("1", Desired.STOPPED)], [], [volume("1")]) == []

    def test_a_stopped_tenant_keeps_its_volume(self) -> None:
        assert plan([want("1", Desired.STOPPED)], [], [volume("1")]) == []


class TestWantedAbsent:
    def test_a_deleted_tenant_is_destroyed_once_for_container_and_volume(self) -> None:
        actions = plan([want("1", Desired.ABSENT)], [machine("1", MachineState.RUNNING)], [volume("1")])
        assert kinds(actions) == [(ActionKind.DESTROY, "1")]

    def test_a_leftover_volume_of_a_deleted_tenant_is_destroyed(self) -> None:
        assert kinds(plan([want("1", Desired.ABSENT)], [], [volume("1")])) == [(ActionKind.DESTROY, "1")]

    def test_a_deleted_tenant_with_nothing_left_needs_nothing(self) -> None:
        assert plan([want("1", Desired.ABSENT)], [], []) == []


class TestOrphans:
    """Resources of tenant ids the App has no row for are quarantined, never removed: the rows may
    be missing because the database is empty, restored or the wrong one."""

    def test_a_running_container_of_an_unknown_tenant_is_stopped_not_removed(self) -> None:
        actions = plan([], [machine("9", MachineState.RUNNING, id="c9")], [volume("9")], desired_as_of=NOW)
        assert kinds(actions) == [(ActionKind.STOP_ORPHAN, "9")]
        assert actions[0].slug == "slug-9"

    def test_nothing_is_ever_planned_for_an_unknown_volume_or_a_stopped_unknown_container(self) -> None:
        observed = [machine("9", MachineState.EXITED), machine("8", MachineState.CREATED)]
        assert plan([], observed, [volume("9"), volume("7")], desired_as_of=NOW) == []

    def test_an_empty_tenants_table_removes_nothing_at_all(self) -> None:
        observed = [machine(str(n), MachineState.RUNNING) for n in range(5)]
        actions = plan([], observed, [volume(str(n)) for n in range(5)], desired_as_of=NOW)
        assert {a.kind for a in actions} == {ActionKind.STOP_ORPHAN}

    def test_a_container_newer_than_the_tenant_list_is_left_running(self) -> None:
        # It may belong to a tenant created after the App read its rows.
        fresh = machine("9", MachineState.RUNNING, created=NOW + timedelta(seconds=1))
        assert plan([], [fresh], [volume("9", created=NOW + timedelta(seconds=1))], desired_as_of=NOW) == []

    def test_without_a_cutoff_every_running_orphan_is_stopped(self) -> None:
        fresh = machine("9", MachineState.RUNNING, created=NOW + timedelta(days=1))
        assert kinds(plan([], [fresh], [])) == [(ActionKind.STOP_ORPHAN, "9")]


class TestLevelTriggered:
    def test_the_converged_state_plans_nothing(self) -> None:
        desired = [want("1", Desired.RUNNING), want("2", Desired.STOPPED), want("3", Desired.ABSENT)]
        observed = [machine("1", MachineState.RUNNING), machine("2", MachineState.STOPPED)]
        assert plan(desired, observed, [volume("1"), volume("2")], desired_as_of=NOW) == []

    def test_the_plan_does_not_depend_on_the_order_of_observations(self) -> None:
        desired = [want("2", Desired.RUNNING), want("1", Desired.STOPPED)]
        observed = [machine("1", MachineState.RUNNING), machine("8", MachineState.EXITED)]
        vols = [volume("8"), volume("1"), volume("7")]
        first = plan(desired, observed, vols, desired_as_of=NOW)
        second = plan(
            list(reversed(desired)), list(reversed(observed)), list(reversed(vols)), desired_as_of=NOW
        )
        assert first == second
