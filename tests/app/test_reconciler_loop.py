"""The reconciler in the App: what happens behind the App's back is repaired, orphans are removed,
an unreachable engine is reported and recovered from, and a round with nothing to do changes
nothing and says nothing."""

from __future__ import annotations

import logging
import uuid

import pytest
from cial_app.orchestrator import MachineState
from cial_app.provisioning.backoff import Backoff
from cial_app.settings import Settings

from testkit.owner import act, create, history, reasons, tenant
from testkit.polling import eventually_async

from .conftest import OWNER, Client, Running, run_app, running_tenant, with_
from .fakes import FakeEngine


class TestRepairsBehindTheAppsBack:
    async def test_a_removed_container_is_created_again_and_the_row_follows(
        self, running: Running, owner: Client
    ) -> None:
        before = await running_tenant(running, owner)
        running.engine.memory.remove_behind_back(before["id"])
        await running.reconcile()
        after = await tenant(owner, "acme")
        assert after["state"] == "running"
        [machine] = await running.engine.machines_of(after["id"])
        assert after["machine_id"] == machine.id != before["machine_id"]
        assert after["published_port"] == machine.published_port
        assert (await history(owner, "acme"))[-2:] == [("running", "starting"), ("starting", "running")]
        assert "removed outside the App" in (await reasons(owner, "acme"))[-2]

    async def test_a_container_that_died_is_started_again(self, running: Running, owner: Client) -> None:
        before = await running_tenant(running, owner)
        running.engine.memory.kill(before["id"], exit_code=137)
        await running.reconcile()
        assert (await tenant(owner, "acme"))["state"] == "running"
        [machine] = await running.engine.machines_of(before["id"])
        assert machine.state is MachineState.RUNNING
        assert "exit code 137" in (await reasons(owner, "acme"))[-2]

    async def test_a_container_in_a_crash_loop_shows_as_error_until_it_serves_again(
        self, running: Running, owner: Client
    ) -> None:
        before = await running_tenant(running, owner)
        running.engine.memory.crash_loop(before["id"], exit_code=3, restarts=4)
        await running.reconcile()
        crashed = await tenant(owner, "acme")
        assert crashed["state"] == "error"
        assert "keeps crashing (4 restarts, last exit code 3)" in crashed["state_reason"]

        await running.engine.memory.start(before["id"])
        await running.reconcile()
        await running.settle()
        assert (await tenant(owner, "acme"))["state"] == "running"
        steps = await history(owner, "acme")
        assert steps[-3:] == [("running", "error"), ("error", "starting"), ("starting", "running")], steps

    async def test_a_stopped_tenant_started_behind_the_apps_back_is_stopped_again(
        self, running: Running, owner: Client
    ) -> None:
        body = await running_tenant(running, owner)
        await act(owner, "acme", "stop")
        await running.settle()
        await running.engine.memory.start(body["id"])
        await running.reconcile()
        assert (await tenant(owner, "acme"))["state"] == "stopped"
        [machine] = await running.engine.machines_of(body["id"])
        assert machine.state is MachineState.STOPPED

    async def test_a_stopped_tenant_stays_stopped(self, running: Running, owner: Client) -> None:
        body = await running_tenant(running, owner)
        await act(owner, "acme", "stop")
        await running.settle()
        await running.reconcile()
        await running.reconcile()
        [machine] = await running.engine.machines_of(body["id"])
        assert machine.state is MachineState.STOPPED
        assert (await tenant(owner, "acme"))["state"] == "stopped"


class TestOrphans:
    async def test_a_labelled_container_with_no_tenant_is_stopped_and_kept_with_its_volume(
        self, running: Running, owner: Client
    ) -> None:
        mine = await running_tenant(running, owner)
        orphan = str(uuid.uuid4())
        running.engine.memory.add_orphan(orphan, "ghost")
        await running.reconcile()
        await running.reconcile()
        [machine] = await running.engine.machines_of(orphan)
        assert machine.state is MachineState.STOPPED
        assert len(await running.engine.volumes_of(orphan)) == 1
        assert running.engine.count("remove_machine") == running.engine.count("remove_volume") == 0
        assert len(await running.engine.machines_of(mine["id"])) == 1


class TestLevelTriggered:
    async def test_a_round_with_nothing_to_do_changes_nothing_and_logs_nothing(
        self, running: Running, owner: Client, caplog: pytest.LogCaptureFixture
    ) -> None:
        await running_tenant(running, owner, "acme")
        await running_tenant(running, owner, "globex")
        await act(owner, "globex", "stop")
        await running.settle()
        await running.reconcile()
        events = (await history(owner, "acme"), await history(owner, "globex"))
        calls = [c for c in running.engine.calls if c[0] != "list_machines"]
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="cial_app"):
            await running.reconcile()
            await running.reconcile()
        assert (await history(owner, "acme"), await history(owner, "globex")) == events
        assert [c for c in running.engine.calls if c[0] != "list_machines"] == calls
        assert [r.getMessage() for r in caplog.records if r.name.startswith("cial_app")] == []

    async def test_each_repair_is_one_log_line(
        self, running: Running, owner: Client, caplog: pytest.LogCaptureFixture
    ) -> None:
        body = await running_tenant(running, owner)
        running.engine.memory.remove_behind_back(body["id"])
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="cial_app.provisioning"):
            await running.reconcile()
        lines = [r.getMessage() for r in caplog.records if r.name.startswith("cial_app.provisioning")]
        assert lines == [
            "tenant acme: its container was removed outside the App; creating it again",
            "tenant acme: running at cial-tenant-acme:8080 (healthy after 0.2 s)",
        ]


class TestEngineUnreachable:
    async def test_tenants_go_to_error_with_the_reason_and_recover_when_it_is_back(
        self, running: Running, owner: Client
    ) -> None:
        await running_tenant(running, owner)
        running.engine.engine_up = False
        await running.reconcile()
        body = await tenant(owner, "acme")
        assert body["state"] == "error"
        assert "engine is down" in body["state_reason"]
        assert (await owner.get("/api/admin/tenants")).status_code == 200
        events = await history(owner, "acme")
        await running.reconcile()
        assert await history(owner, "acme") == events  # said once, not every round
        running.engine.engine_up = True
        await running.reconcile()
        body = await tenant(owner, "acme")
        assert body["state"] == "running"
        # Nothing was lost: the same container, adopted again.
        assert len(await running.engine.machines_of(body["id"])) == 1

    async def test_a_stopped_tenant_is_left_stopped_while_the_engine_is_away(
        self, running: Running, owner: Client
    ) -> None:
        await running_tenant(running, owner)
        await act(owner, "acme", "stop")
        await running.settle()
        running.engine.engine_up = False
        await running.reconcile()
        assert (await tenant(owner, "acme"))["state"] == "stopped"

    async def test_provisioning_with_the_engine_away_finishes_when_it_is_back(
        self, running: Running, owner: Client
    ) -> None:
        running.engine.engine_up = False
        await create(owner, "acme")
        await running.settle()
        assert (await tenant(owner, "acme"))["state"] == "error"
        running.engine.engine_up = True
        await running.reconcile()
        assert (await tenant(owner, "acme"))["state"] == "running"


class TestRetries:
    async def test_a_failing_tenant_is_retried_only_after_its_backoff(self, settings: Settings) -> None:
        engine = FakeEngine(images=())
        async with run_app(with_(settings, tenant_image="cial-tenant:dev"), engine) as app:
            app.services.provisioning.work.backoff = Backoff(first=3600)
            await app.client.post("/api/auth/sign-up/email", json=OWNER)
            await create(app.client, "acme")
            await app.settle()
            assert (await tenant(app.client, "acme"))["state"] == "error"
            await app.reconcile()
            await app.reconcile()
            assert engine.count("create") == 1
            app.services.provisioning.work.backoff = Backoff(first=0)
            engine.memory.images.add("cial-tenant:dev")  # the owner builds the image
            await app.reconcile()
            assert (await tenant(app.client, "acme"))["state"] == "running"

    async def test_a_retry_that_fails_the_same_way_writes_no_new_event(self, settings: Settings) -> None:
        engine = FakeEngine(images=())
        async with run_app(settings, engine) as app:
            app.services.provisioning.work.backoff = Backoff(first=0)
            await app.client.post("/api/auth/sign-up/email", json=OWNER)
            await create(app.client, "acme")
            await app.settle()
            events = await history(app.client, "acme")
            await app.reconcile()
            await app.reconcile()
            assert engine.count("create") == 3
            assert await history(app.client, "acme") == events


class TestTheLoop:
    async def test_the_app_repairs_by_itself_every_interval(self, settings: Settings) -> None:
        async with run_app(with_(settings, reconcile_interval_seconds=0.5)) as app:
            await app.client.post("/api/auth/sign-up/email", json=OWNER)
            body = await create(app.client, "acme")
            await app.settle()
            app.engine.memory.remove_behind_back(body["id"])
            await eventually_async(
                lambda: _has_running_machine(app, body["id"]),
                timeout=5.0,
                interval=0.05,
                what="the loop to re-create the removed container",
            )
            await app.settle()
            assert (await tenant(app.client, "acme"))["state"] == "running"

    async def test_a_failing_round_does_not_stop_the_loop(self, settings: Settings) -> None:
        engine = FakeEngine()
        async with run_app(with_(settings, reconcile_interval_seconds=0.5), engine) as app:
            reconciler = app.services.provisioning.loop
            engine.failures["list_machines"] = RuntimeError("the database went away")
            start = reconciler.rounds

            async def two_more_rounds() -> bool:
                return reconciler.rounds >= start + 2

            await eventually_async(two_more_rounds, timeout=5.0, interval=0.05, what="two more rounds")


async def _has_running_machine(app: Running, tenant_id: str) -> bool:
    return any(m.state is MachineState.RUNNING for m in await app.engine.machines_of(tenant_id))
