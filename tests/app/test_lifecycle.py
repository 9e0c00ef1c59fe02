"""The owner's lifecycle actions on a tenant: stop, start, restart and delete. Each is idempotent,
answers 409 where the state forbids it, and records what it does; the owner's wish (running or
stopped) is stored, so the reconciler knows what to keep."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from cial_app.orchestrator import MachineState
from cial_app.provisioning import Verb, Verdict, decide
from cial_app.provisioning.rules import StateForbids
from cial_app.tenants.states import TenantState
from cial_app.tenants.tables import Tenant, TenantEvent

from testkit.owner import act, create, history, reasons, tenant

from .conftest import Client, Running, running_tenant


class TestStop:
    async def test_stop_answers_202_stopping_then_the_tenant_is_stopped_and_keeps_its_volume(
        self, running: Running, owner: Client
    ) -> None:
        before = await running_tenant(running, owner)
        response = await act(owner, "acme", "stop")
        assert response.status_code == 202
        assert response.json()["state"] == "stopping"
        assert response.json()["desired_state"] == "stopped"
        await running.settle()
        after = await tenant(owner, "acme")
        assert after["state"] == "stopped"
        assert after["published_port"] is None  # nothing is published while stopped
        assert after["machine_id"] == before["machine_id"]
        [machine] = await running.engine.machines_of(after["id"])
        assert machine.state is MachineState.STOPPED
        assert len(await running.engine.volumes_of(after["id"])) == 1
        assert (await history(owner, "acme"))[-2:] == [("running", "stopping"), ("stopping", "stopped")]

    async def test_stopping_a_stopped_tenant_changes_nothing(self, running: Running, owner: Client) -> None:
        await running_tenant(running, owner)
        await act(owner, "acme", "stop")
        await running.settle()
        events = await history(owner, "acme")
        again = await act(owner, "acme", "stop")
        assert again.status_code == 200
        assert again.json()["state"] == "stopped"
        await running.settle()
        assert await history(owner, "acme") == events
        assert running.engine.count("stop") == 1


class TestStart:
    async def test_start_brings_a_stopped_tenant_back_on_a_new_port(
        self, running: Running, owner: Client
    ) -> None:
        await running_tenant(running, owner)
        await act(owner, "acme", "stop")
        await running.settle()
        response = await act(owner, "acme", "start")
        assert response.status_code == 202
        assert response.json()["state"] == "starting"
        await running.settle()
        after = await tenant(owner, "acme")
        assert after["state"] == "running"
        assert after["desired_state"] == "running"
        [machine] = await running.engine.machines_of(after["id"])
        assert after["published_port"] == machine.published_port is not None
        assert (await history(owner, "acme"))[-2:] == [("stopped", "starting"), ("starting", "running")]

    async def test_starting_a_running_tenant_changes_nothing(self, running: Running, owner: Client) -> None:
        await running_tenant(running, owner)
        events = await history(owner, "acme")
        response = await act(owner, "acme", "start")
        assert response.status_code == 200
        assert response.json()["state"] == "running"
        await running.settle()
        assert await history(owner, "acme") == events
        assert running.engine.count("create") == 1

    async def test_start_while_provisioning_gets_409_saying_why(
        self, running: Running, owner: Client
    ) -> None:
        gate = running.engine.hold("create")
        await create(owner, "acme")
        await asyncio.wait_for(gate.arrived.wait(), 5)
        response = await act(owner, "acme", "start")
        assert response.status_code == 409
        assert response.json()["code"] == "state_forbids"
        assert "still being provisioned" in response.json()["message"]
        gate.open()
        await running.settle()

    async def test_start_retries_a_tenant_in_error(self, running: Running, owner: Client) -> None:
        running.engine.unhealthy["acme"] = "connection refused"
        await create(owner, "acme")
        await running.settle()
        assert (await tenant(owner, "acme"))["state"] == "error"
        del running.engine.unhealthy["acme"]
        assert (await act(owner, "acme", "start")).status_code == 202
        await running.settle()
        assert (await tenant(owner, "acme"))["state"] == "running"


class TestRestart:
    async def test_restart_stops_and_starts_the_container(self, running: Running, owner: Client) -> None:
        await running_tenant(running, owner)
        response = await act(owner, "acme", "restart")
        assert response.status_code == 202
        assert response.json()["state"] == "starting"
        await running.settle()
        assert (await tenant(owner, "acme"))["state"] == "running"
        assert running.engine.count("stop") == 1
        assert running.engine.count("create") == 2
        assert "restart asked by the owner" in await reasons(owner, "acme")

    async def test_restart_while_stopping_gets_409(self, running: Running, owner: Client) -> None:
        await running_tenant(running, owner)
        gate = running.engine.hold("stop")
        await act(owner, "acme", "stop")
        await asyncio.wait_for(gate.arrived.wait(), 5)
        response = await act(owner, "acme", "restart")
        assert response.status_code == 409
        assert "is stopping" in response.json()["message"]
        gate.open()
        await running.settle()


class TestDelete:
    async def test_delete_removes_container_volume_row_and_its_events(
        self, running: Running, owner: Client
    ) -> None:
        body = await running_tenant(running, owner)
        response = await owner.delete("/api/admin/tenants/acme")
        assert response.status_code == 204
        assert await running.engine.machines_of(body["id"]) == []
        assert await running.engine.volumes_of(body["id"]) == []
        assert (await owner.get("/api/admin/tenants/acme")).status_code == 404
        assert await Tenant.count() == 0
        assert await TenantEvent.count() == 0

    async def test_a_second_delete_gets_404(self, running: Running, owner: Client) -> None:
        await running_tenant(running, owner)
        assert (await owner.delete("/api/admin/tenants/acme")).status_code == 204
        again = await owner.delete("/api/admin/tenants/acme")
        assert again.status_code == 404
        assert running.engine.count("destroy") == 1

    async def test_the_slug_can_be_used_again_and_gets_fresh_data(
        self, running: Running, owner: Client
    ) -> None:
        first = await running_tenant(running, owner)
        await owner.delete("/api/admin/tenants/acme")
        second = await running_tenant(running, owner)
        assert second["id"] != first["id"]
        [volume] = await running.engine.volumes_of(second["id"])
        assert first["id"] not in volume.name

    async def test_delete_during_provisioning_waits_for_the_engine_call_and_leaves_nothing(
        self, running: Running, owner: Client
    ) -> None:
        gate = running.engine.hold("create")
        body = await create(owner, "acme")
        await asyncio.wait_for(gate.arrived.wait(), 5)
        deleting = asyncio.create_task(owner.delete("/api/admin/tenants/acme"))
        await asyncio.sleep(0.05)
        assert not deleting.done()  # the container being made is waited for, then removed
        gate.open()
        response = await asyncio.wait_for(deleting, 5)
        assert response.status_code == 204
        await running.settle()
        assert await running.engine.machines_of(body["id"]) == []
        assert await running.engine.volumes_of(body["id"]) == []

    async def test_delete_with_the_engine_down_is_finished_once_it_is_back(
        self, running: Running, owner: Client
    ) -> None:
        body = await running_tenant(running, owner)
        running.engine.engine_up = False
        response = await owner.delete("/api/admin/tenants/acme")
        assert response.status_code == 202
        assert response.json()["state"] == "deleting"
        assert response.json()["desired_state"] == "absent"
        assert "down" in response.json()["state_reason"]
        await running.reconcile()
        assert (await tenant(owner, "acme"))["state"] == "deleting"
        running.engine.engine_up = True
        await running.reconcile()
        assert (await owner.get("/api/admin/tenants/acme")).status_code == 404
        assert await running.engine.machines_of(body["id"]) == []
        assert await running.engine.volumes_of(body["id"]) == []

    async def test_other_actions_on_a_tenant_being_deleted_get_409(
        self, running: Running, owner: Client
    ) -> None:
        await running_tenant(running, owner)
        running.engine.engine_up = False
        await owner.delete("/api/admin/tenants/acme")
        for verb in ("start", "stop", "restart"):
            response = await act(owner, "acme", verb)
            assert response.status_code == 409, verb
            assert "being deleted" in response.json()["message"]


class TestActionsNeedTheOwnerAndATenant:
    @pytest.mark.parametrize("verb", ["start", "stop", "restart"])
    async def test_an_unknown_slug_gets_404(self, owner: Client, verb: str) -> None:
        assert (await act(owner, "nobody", verb)).status_code == 404

    async def test_deleting_an_unknown_slug_gets_404(self, owner: Client) -> None:
        assert (await owner.delete("/api/admin/tenants/nobody")).status_code == 404

    @pytest.mark.parametrize("verb", ["start", "stop", "restart"])
    async def test_without_a_session_actions_get_401(self, client: Client, verb: str) -> None:
        assert (await act(client, "acme", verb)).status_code == 401

    async def test_without_a_session_delete_gets_401(self, client: Client) -> None:
        assert (await client.delete("/api/admin/tenants/acme")).status_code == 401

    async def test_a_cross_site_action_is_refused(self, running: Running, owner: Client) -> None:
        await running_tenant(running, owner)
        response = await owner.post("/api/admin/tenants/acme/stop", headers={"Sec-Fetch-Site": "cross-site"})
        assert response.status_code == 403
        assert (await tenant(owner, "acme"))["state"] == "running"


class TestLogs:
    async def test_the_logs_of_a_tenant_are_its_container_output(
        self, running: Running, owner: Client
    ) -> None:
        await running_tenant(running, owner)
        response = await owner.get("/api/admin/tenants/acme/logs")
        assert response.status_code == 200
        assert any("cial-tenant-acme" in line for line in response.json()["lines"])

    async def test_a_tenant_without_a_container_has_no_logs_and_says_why(
        self, running: Running, owner: Client
    ) -> None:
        running.engine.engine_up = False
        await create(owner, "acme")
        await running.settle()
        body = (await owner.get("/api/admin/tenants/acme/logs")).json()
        assert body["lines"] == []
        assert "cannot be read now" in body["note"]


class TestTheRulesTable:
    """Every state against every action, in one place."""

    @pytest.mark.parametrize(
        ("verb", "state", "expected"),
        [
            (Verb.START, TenantState.STOPPED, Verdict.GO),
            (Verb.START, TenantState.ERROR, Verdict.GO),
            (Verb.START, TenantState.RUNNING, Verdict.NOOP),
            (Verb.START, TenantState.STARTING, Verdict.NOOP),
            (Verb.STOP, TenantState.RUNNING, Verdict.GO),
            (Verb.STOP, TenantState.ERROR, Verdict.GO),
            (Verb.STOP, TenantState.STOPPED, Verdict.NOOP),
            (Verb.STOP, TenantState.STOPPING, Verdict.NOOP),
            (Verb.RESTART, TenantState.RUNNING, Verdict.GO),
            (Verb.RESTART, TenantState.STOPPED, Verdict.GO),
            (Verb.RESTART, TenantState.ERROR, Verdict.GO),
            (Verb.DELETE, TenantState.PROVISIONING, Verdict.GO),
            (Verb.DELETE, TenantState.DELETING, Verdict.NOOP),
        ],
    )
    def test_allowed(self, verb: Verb, state: TenantState, expected: Verdict) -> None:
        assert decide(verb, state, "acme") is expected

    @pytest.mark.parametrize(
        ("verb", "state"),
        [
            (Verb.START, TenantState.PROVISIONING),
            (Verb.START, TenantState.STOPPING),
            (Verb.START, TenantState.DELETING),
            (Verb.STOP, TenantState.PROVISIONING),
            (Verb.STOP, TenantState.STARTING),
            (Verb.STOP, TenantState.DELETING),
            (Verb.RESTART, TenantState.PROVISIONING),
            (Verb.RESTART, TenantState.STARTING),
            (Verb.RESTART, TenantState.STOPPING),
            (Verb.RESTART, TenantState.DELETING),
        ],
    )
    def test_refused_with_a_409_naming_the_tenant_and_the_state(self, verb: Verb, state: TenantState) -> None:
        with pytest.raises(StateForbids) as refused:
            decide(verb, state, "acme")
        assert refused.value.status == 409
        assert f"Cannot {verb.value} tenant 'acme'" in refused.value.message

    def test_every_state_has_a_verdict_for_every_action(self) -> None:
        for verb in Verb:
            for state in TenantState:
                with contextlib.suppress(StateForbids):  # a refusal is a verdict; a KeyError is not
                    decide(verb, state, "acme")
