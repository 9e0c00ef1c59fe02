"""The Orchestrator Protocol's contract, run against every driver (conftest.py)."""

from __future__ import annotations

import pytest
from cial_app.orchestrator import (
    MachineNotFound,
    MachineSpec,
    MachineState,
    Orchestrator,
    OrchestratorError,
)

from .conftest import NewSpec


async def mine(driver: Orchestrator, tenant_id: str) -> list[str]:
    return [m.id or "" for m in await driver.list_machines() if m.tenant_id == tenant_id]


async def volumes(driver: Orchestrator, tenant_id: str) -> list[str]:
    return [v.name for v in await driver.list_volumes() if v.tenant_id == tenant_id]


class TestCreate:
    async def test_create_runs_the_machine_with_its_name_volume_and_upstream(
        self, driver: Orchestrator, spec: MachineSpec
    ) -> None:
        machine = await driver.create(spec)
        assert machine.state is MachineState.RUNNING
        assert (machine.tenant_id, machine.slug) == (spec.tenant_id, spec.slug)
        # Named after the slug; a driver scoped to an App instance may add that instance's suffix.
        assert (machine.name or "").startswith(spec.machine_name)
        assert machine.volume == spec.volume_name
        assert machine.upstream is not None and machine.upstream.port == 8080
        assert machine.id

    async def test_create_twice_is_one_machine_and_one_volume(
        self, driver: Orchestrator, spec: MachineSpec
    ) -> None:
        first = await driver.create(spec)
        second = await driver.create(spec)
        assert second.id == first.id and second.state is MachineState.RUNNING
        assert await mine(driver, spec.tenant_id) == [first.id]
        assert await volumes(driver, spec.tenant_id) == [spec.volume_name]

    async def test_create_of_a_stopped_machine_starts_the_same_one(
        self, driver: Orchestrator, spec: MachineSpec
    ) -> None:
        first = await driver.create(spec)
        await driver.stop(spec.tenant_id)
        again = await driver.create(spec)
        assert (again.id, again.state) == (first.id, MachineState.RUNNING)

    async def test_two_tenants_are_apart(self, driver: Orchestrator, new_spec: NewSpec) -> None:
        a, b = new_spec(), new_spec()
        await driver.create(a)
        await driver.create(b)
        await driver.stop(a.tenant_id)
        assert (await driver.status(a.tenant_id)).state is MachineState.STOPPED
        assert (await driver.status(b.tenant_id)).state is MachineState.RUNNING


class TestStartStop:
    async def test_start_of_a_running_machine_changes_nothing(
        self, driver: Orchestrator, spec: MachineSpec
    ) -> None:
        created = await driver.create(spec)
        started = await driver.start(spec.tenant_id)
        assert (started.id, started.state) == (created.id, MachineState.RUNNING)

    async def test_stop_stops_and_a_second_stop_is_a_no_op(
        self, driver: Orchestrator, spec: MachineSpec
    ) -> None:
        created = await driver.create(spec)
        stopped = await driver.stop(spec.tenant_id)
        assert (stopped.id, stopped.state, stopped.upstream) == (created.id, MachineState.STOPPED, None)
        again = await driver.stop(spec.tenant_id)
        assert (again.id, again.state) == (created.id, MachineState.STOPPED)
        assert (await driver.status(spec.tenant_id)).state is MachineState.STOPPED

    async def test_the_volume_survives_stop_and_start(self, driver: Orchestrator, spec: MachineSpec) -> None:
        created = await driver.create(spec)
        await driver.stop(spec.tenant_id)
        assert await volumes(driver, spec.tenant_id) == [spec.volume_name]
        started = await driver.start(spec.tenant_id)
        assert (started.id, started.state, started.volume) == (
            created.id,
            MachineState.RUNNING,
            spec.volume_name,
        )
        assert await volumes(driver, spec.tenant_id) == [spec.volume_name]

    async def test_restart_leaves_it_running(self, driver: Orchestrator, spec: MachineSpec) -> None:
        created = await driver.create(spec)
        restarted = await driver.restart(spec.tenant_id)
        assert (restarted.id, restarted.state) == (created.id, MachineState.RUNNING)


class TestDestroy:
    async def test_destroy_removes_machine_and_volume_and_is_idempotent(
        self, driver: Orchestrator, spec: MachineSpec
    ) -> None:
        await driver.create(spec)
        await driver.destroy(spec.tenant_id)
        assert (await driver.status(spec.tenant_id)).state is MachineState.ABSENT
        assert await mine(driver, spec.tenant_id) == []
        assert await volumes(driver, spec.tenant_id) == []
        await driver.destroy(spec.tenant_id)

    async def test_destroy_of_a_tenant_that_never_was_is_done(
        self, driver: Orchestrator, spec: MachineSpec
    ) -> None:
        await driver.destroy(spec.tenant_id)

    async def test_remove_machine_keeps_the_volume_and_create_reuses_it(
        self, driver: Orchestrator, spec: MachineSpec
    ) -> None:
        created = await driver.create(spec)
        await driver.remove_machine(created.id or "")
        await driver.remove_machine(created.id or "")  # idempotent
        assert (await driver.status(spec.tenant_id)).state is MachineState.ABSENT
        assert await volumes(driver, spec.tenant_id) == [spec.volume_name]
        again = await driver.create(spec)
        assert again.state is MachineState.RUNNING and again.id != created.id
        assert await volumes(driver, spec.tenant_id) == [spec.volume_name]

    async def test_a_volume_in_use_is_not_removed(self, driver: Orchestrator, spec: MachineSpec) -> None:
        await driver.create(spec)
        with pytest.raises(OrchestratorError):
            await driver.remove_volume(spec.volume_name)
        assert await volumes(driver, spec.tenant_id) == [spec.volume_name]


class TestNothingThere:
    async def test_status_and_stop_of_nothing_are_absent(
        self, driver: Orchestrator, spec: MachineSpec
    ) -> None:
        assert (await driver.status(spec.tenant_id)).state is MachineState.ABSENT
        assert (await driver.stop(spec.tenant_id)).state is MachineState.ABSENT

    @pytest.mark.parametrize("verb", ["start", "restart", "logs"])
    async def test_start_restart_logs_of_nothing_are_machine_not_found(
        self, driver: Orchestrator, spec: MachineSpec, verb: str
    ) -> None:
        with pytest.raises(MachineNotFound) as caught:
            await getattr(driver, verb)(spec.tenant_id)
        assert caught.value.reason and caught.value.code == "machine_not_found"

    async def test_logs_of_a_machine_are_lines(self, driver: Orchestrator, spec: MachineSpec) -> None:
        await driver.create(spec)
        lines = await driver.logs(spec.tenant_id, tail=5)
        assert isinstance(lines, list) and all(isinstance(line, str) for line in lines)
        assert len(lines) <= 5

    async def test_ensure_routes_never_fails_on_a_healthy_engine(self, driver: Orchestrator) -> None:
        await driver.ensure_routes()
