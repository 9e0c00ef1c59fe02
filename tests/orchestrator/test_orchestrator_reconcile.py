"""reconcile_once executes the plan through a driver; the in-memory driver stands in for Docker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cial_app.orchestrator import (
    ActionKind,
    Desired,
    DesiredTenant,
    EngineUnavailable,
    ImageNotFound,
    Machine,
    MachineSpec,
    MachineState,
    MachineTemplate,
    reconcile_once,
)
from cial_app.orchestrator.memory import MemoryOrchestrator

TEMPLATE = MachineTemplate(image="cial-tenant:dev")
ACME = DesiredTenant("1", "acme", Desired.RUNNING)
BETA = DesiredTenant("2", "beta", Desired.RUNNING)


class TestConverging:
    async def test_missing_tenants_are_created_and_reported_running(self) -> None:
        engine = MemoryOrchestrator()
        report = await reconcile_once(engine, [ACME, BETA], TEMPLATE)
        assert [o.action.kind for o in report.outcomes] == [ActionKind.CREATE, ActionKind.CREATE]
        assert {t: m.state for t, m in report.machines.items()} == {
            "1": MachineState.RUNNING,
            "2": MachineState.RUNNING,
        }
        assert report.machines["1"].host_port is not None

    async def test_a_second_round_changes_nothing(self) -> None:
        engine = MemoryOrchestrator()
        await reconcile_once(engine, [ACME, BETA], TEMPLATE)
        before = await engine.list_machines()
        report = await reconcile_once(engine, [ACME, BETA], TEMPLATE)
        assert report.outcomes == []
        assert await engine.list_machines() == before

    async def test_a_container_removed_behind_the_apps_back_is_recreated_on_its_volume(self) -> None:
        engine = MemoryOrchestrator()
        await reconcile_once(engine, [ACME], TEMPLATE)
        engine.remove_behind_back("1")
        report = await reconcile_once(engine, [ACME], TEMPLATE)
        assert [o.action.kind for o in report.outcomes] == [ActionKind.CREATE]
        assert report.machines["1"].state is MachineState.RUNNING
        assert [v.name for v in await engine.list_volumes()] == ["cial-tenant-1-data"]

    async def test_a_crashed_container_is_started_again(self) -> None:
        engine = MemoryOrchestrator()
        await reconcile_once(engine, [ACME], TEMPLATE)
        engine.kill("1")
        report = await reconcile_once(engine, [ACME], TEMPLATE)
        assert [o.action.kind for o in report.outcomes] == [ActionKind.START]
        assert (await engine.status("1")).state is MachineState.RUNNING

    async def test_stopping_and_deleting_follow_the_desired_state(self) -> None:
        engine = MemoryOrchestrator()
        await reconcile_once(engine, [ACME, BETA], TEMPLATE)
        report = await reconcile_once(
            engine,
            [DesiredTenant("1", "acme", Desired.STOPPED), DesiredTenant("2", "beta", Desired.ABSENT)],
            TEMPLATE,
        )
        assert report.machines["1"].state is MachineState.STOPPED
        assert report.machines["2"].state is MachineState.ABSENT
        assert [v.tenant_id for v in await engine.list_volumes()] == ["1"]

    async def test_orphans_are_removed_with_their_volume(self) -> None:
        engine = MemoryOrchestrator()
        engine.add_orphan("99", "ghost", created_at=datetime.now(UTC) - timedelta(minutes=1))
        report = await reconcile_once(engine, [ACME], TEMPLATE)
        assert [o.action.kind for o in report.outcomes] == [
            ActionKind.REMOVE_ORPHAN_MACHINE,
            ActionKind.REMOVE_ORPHAN_VOLUME,
            ActionKind.CREATE,
        ]
        assert {m.tenant_id for m in await engine.list_machines()} == {"1"}
        assert {v.tenant_id for v in await engine.list_volumes()} == {"1"}

    async def test_an_orphan_newer_than_the_tenant_list_survives_the_round(self) -> None:
        engine = MemoryOrchestrator()
        read_at = datetime.now(UTC) - timedelta(seconds=5)
        engine.add_orphan("99", "fresh")
        report = await reconcile_once(engine, [], TEMPLATE, desired_as_of=read_at)
        assert report.outcomes == []
        assert len(await engine.list_machines()) == 1


class TestFailures:
    async def test_a_failing_tenant_does_not_stop_the_others(self) -> None:
        engine = MemoryOrchestrator(images=("cial-tenant:dev",))
        broken = MachineTemplate(image="missing:1")
        await reconcile_once(engine, [BETA], TEMPLATE)
        engine.remove_behind_back("2")
        report = await reconcile_once(engine, [ACME, BETA], broken)
        assert [type(o.error) for o in report.outcomes] == [ImageNotFound, ImageNotFound]
        assert "missing:1" in (report.errors[0].error.reason if report.errors[0].error else "")

    async def test_an_engine_that_goes_away_mid_round_fails_the_rest_without_calls(self) -> None:
        class DownAfterFirst(MemoryOrchestrator):
            async def create(self, spec: MachineSpec) -> Machine:
                machine = await super().create(spec)
                self.engine_up = False
                return machine

        engine = DownAfterFirst()
        report = await reconcile_once(engine, [ACME, BETA], TEMPLATE)
        assert report.outcomes[0].ok
        assert isinstance(report.outcomes[1].error, EngineUnavailable)
        assert report.machines["2"].state is MachineState.ABSENT

    async def test_an_unreachable_engine_is_raised_before_planning_and_recovered_from(self) -> None:
        engine = MemoryOrchestrator()
        engine.engine_up = False
        with pytest.raises(EngineUnavailable, match="down"):
            await reconcile_once(engine, [ACME], TEMPLATE)
        engine.engine_up = True
        report = await reconcile_once(engine, [ACME], TEMPLATE)
        assert report.machines["1"].state is MachineState.RUNNING
