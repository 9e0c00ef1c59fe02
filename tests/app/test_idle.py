"""The App's half of idle tenants: the router's two calls (idle, wake), the owner's idle time, and
the reconciler leaving idle tenants alone (an App restart starts none of them)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from cial_app.orchestrator import MachineState
from cial_app.provisioning import Verb, Verdict, decide
from cial_app.provisioning.rules import StateForbids
from cial_app.settings import Settings
from cial_app.tenants.states import TenantState

from testkit.owner import act, history, tenant

from .conftest import Client, Running, post_form, running_tenant, with_

ROUTER_TOKEN = "fast-tests-router-token-0123456789abcdef0123"
ROUTER = {"Authorization": f"Bearer {ROUTER_TOKEN}"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return with_(settings, router_token=ROUTER_TOKEN, idle_after_seconds=600)


async def router_call(client: Client, slug: str, verb: str, headers: dict[str, str] = ROUTER) -> Any:
    return await client.post(f"/api/router/tenants/{slug}/{verb}", headers=headers)


class TestTheRoutersCalls:
    async def test_idle_stops_the_machine_and_keeps_wanting_it_running(
        self, running: Running, owner: Client
    ) -> None:
        body = await running_tenant(running, owner)
        assert body["idle_after_seconds"] == 600  # the App's default, given at creation
        answer = await router_call(owner, "acme", "idle")
        assert answer.status_code == 202
        assert answer.json()["state"] == "idling"
        await running.settle()
        after = await tenant(owner, "acme")
        assert (after["state"], after["desired_state"]) == ("idle", "running")
        [machine] = await running.engine.machines_of(after["id"])
        assert machine.state is MachineState.STOPPED
        assert (await history(owner, "acme"))[-2:] == [("running", "idling"), ("idling", "idle")]
        # Its URL stays: a request there wakes it.
        assert after["url"] == "http://acme.localhost:8080"

    async def test_wake_brings_an_idle_tenant_up_with_the_same_machine(
        self, running: Running, owner: Client
    ) -> None:
        before = await running_tenant(running, owner)
        await router_call(owner, "acme", "idle")
        await running.settle()
        answer = await router_call(owner, "acme", "wake")
        assert (answer.status_code, answer.json()["state"]) == (202, "starting")
        await running.settle()
        after = await tenant(owner, "acme")
        assert after["state"] == "running"
        assert after["machine_id"] == before["machine_id"]
        assert running.engine.count("create") + running.engine.count("start") >= 2

    async def test_a_second_wake_while_it_starts_changes_nothing(
        self, running: Running, owner: Client
    ) -> None:
        await running_tenant(running, owner)
        await router_call(owner, "acme", "idle")
        await running.settle()
        gate = running.engine.hold("create")
        first = await router_call(owner, "acme", "wake")
        second = await router_call(owner, "acme", "wake")
        gate.open()
        await running.settle()
        assert (first.status_code, second.status_code) == (202, 200)
        assert (await tenant(owner, "acme"))["state"] == "running"

    async def test_a_wake_racing_the_idle_stop_stops_once_then_starts(
        self, running: Running, owner: Client
    ) -> None:
        await running_tenant(running, owner)
        stops_before = running.engine.count("stop")
        gate = running.engine.hold("stop")
        await router_call(owner, "acme", "idle")
        await gate.arrived.wait()
        # The wake waits for the stop's engine call (a container is never started mid-stop).
        waking = asyncio.create_task(router_call(owner, "acme", "wake"))
        await asyncio.sleep(0.05)
        assert not waking.done()
        gate.open()
        wake = await waking
        await running.settle()
        assert wake.status_code == 202
        assert running.engine.count("stop") == stops_before + 1
        assert (await tenant(owner, "acme"))["state"] == "running"

    async def test_a_tenant_its_owner_stopped_is_not_woken(self, running: Running, owner: Client) -> None:
        await running_tenant(running, owner)
        await act(owner, "acme", "stop")
        await running.settle()
        refused = await router_call(owner, "acme", "wake")
        assert refused.status_code == 409
        assert "stopped by its owner" in refused.json()["message"]

    @pytest.mark.parametrize(
        "headers",
        [{}, {"Authorization": "Bearer wrong"}, {"Authorization": ROUTER_TOKEN}],
        ids=["none", "wrong", "no-scheme"],
    )
    async def test_without_the_routers_token_nothing_happens(
        self, running: Running, owner: Client, headers: dict[str, str]
    ) -> None:
        await running_tenant(running, owner)
        # The owner's own session is no key either: these are the router's calls.
        assert (await router_call(owner, "acme", "idle", headers)).status_code == 401
        assert (await tenant(owner, "acme"))["state"] == "running"


class TestIdleTime:
    async def test_the_owner_sets_it_or_never(self, running: Running, owner: Client) -> None:
        await running_tenant(running, owner)
        path = "/api/admin/tenants/acme/idle-time"
        assert (await owner.put(path, json={"idle_after_seconds": 60})).json()["idle_after_seconds"] == 60
        assert (await owner.put(path, json={"idle_after_seconds": None})).json()["idle_after_seconds"] is None
        refused = await owner.put(path, json={"idle_after_seconds": 0})
        assert refused.status_code == 400
        assert "or null for never" in refused.json()["message"]


class TestRestarts:
    async def test_a_reconciler_round_leaves_an_idle_tenant_stopped_and_finishes_an_idling_one(
        self, running: Running, owner: Client
    ) -> None:
        """What an App restart does first: one round over every tenant, with no memory of jobs."""
        await running_tenant(running, owner, "idle1")
        other = await running_tenant(running, owner, "idle2")
        await router_call(owner, "idle1", "idle")
        await running.settle()
        # idle2: as if the App died right after recording `idling`, before its stop job ran.
        await running.services.tenant_store.transition(
            uuid.UUID(other["id"]), TenantState.IDLING, "unused for its idle time; stopping it"
        )
        starts = running.engine.count("create") + running.engine.count("start")
        running.engine.engine_up = False
        await running.reconcile()  # the engine is down: an idle tenant does not go to `error`
        running.engine.engine_up = True
        await running.reconcile()
        await running.reconcile()
        states = {slug: (await tenant(owner, slug))["state"] for slug in ("idle1", "idle2")}
        assert states == {"idle1": "idle", "idle2": "idle"}
        assert running.engine.count("create") + running.engine.count("start") == starts
        for slug in ("idle1", "idle2"):
            [machine] = await running.engine.machines_of((await tenant(owner, slug))["id"])
            assert machine.state is MachineState.STOPPED


class TestRules:
    @pytest.mark.parametrize("state", list(TenantState))
    def test_only_a_running_tenant_goes_idle(self, state: TenantState) -> None:
        if state is TenantState.RUNNING:
            assert decide(Verb.IDLE, state, "acme") is Verdict.GO
        elif state in (TenantState.IDLE, TenantState.IDLING):
            assert decide(Verb.IDLE, state, "acme") is Verdict.NOOP
        else:
            with pytest.raises(StateForbids):
                decide(Verb.IDLE, state, "acme")

    def test_the_owner_can_stop_an_idle_tenant_for_good(self) -> None:
        assert decide(Verb.STOP, TenantState.IDLE, "acme") is Verdict.GO


class TestAdminPages:
    async def test_the_idle_time_form_sets_it_and_the_page_shows_it(
        self, running: Running, owner: Client
    ) -> None:
        await running_tenant(running, owner)
        page = await owner.get("/admin/tenants/acme")
        assert '<option value="10" selected>10 min</option>' in page.text  # the App's default, 600 s
        saved = await post_form(
            owner,
            "/admin/tenants/acme/idle-time",
            {"idle_minutes": "never"},
            token_from="/admin/tenants/acme",
        )
        assert (saved.status_code, saved.headers["location"]) == (303, "/admin/tenants/acme?done=idle-time")
        assert (await tenant(owner, "acme"))["idle_after_seconds"] is None
        page = await owner.get("/admin/tenants/acme?done=idle-time")
        assert "Idle time saved." in page.text
        assert '<option value="never" selected>never</option>' in page.text

    async def test_a_bad_idle_time_is_shown_next_to_the_form(self, running: Running, owner: Client) -> None:
        await running_tenant(running, owner)
        refused = await post_form(
            owner, "/admin/tenants/acme/idle-time", {"idle_minutes": "soon"}, token_from="/admin/tenants/acme"
        )
        assert refused.status_code == 400
        assert "Idle time must be a number of minutes or &#39;never&#39;" in refused.text

    async def test_an_idle_tenant_shows_idle_with_its_address_and_open(
        self, running: Running, owner: Client
    ) -> None:
        await running_tenant(running, owner)
        await router_call(owner, "acme", "idle")
        await running.settle()
        listing = await owner.get("/admin")
        assert 'class="state state-idle">idle</span>' in listing.text
        assert 'href="/api/admin/tenants/acme/open"' in listing.text
        page = await owner.get("/admin/tenants/acme")
        assert 'id="open-unavailable"' not in page.text

    async def test_the_routers_verbs_are_no_admin_actions(self, running: Running, owner: Client) -> None:
        await running_tenant(running, owner)
        for verb in ("wake", "idle"):
            response = await post_form(
                owner, f"/admin/tenants/acme/{verb}", {}, token_from="/admin/tenants/acme"
            )
            assert response.status_code == 404


class TestABurstOfWakes:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return with_(settings, max_parallel_starts=2)

    async def test_waking_many_idle_tenants_at_once_starts_them_a_few_at_a_time(
        self, running: Running, owner: Client
    ) -> None:
        slugs = [f"burst{i}" for i in range(6)]
        for slug in slugs:
            await running_tenant(running, owner, slug)
            await router_call(owner, slug, "idle")
        await running.settle()
        gate = running.engine.hold("create")
        answers = await asyncio.gather(*(router_call(owner, slug, "wake") for slug in slugs))
        assert [a.status_code for a in answers] == [202] * 6
        await gate.arrived.wait()
        await asyncio.sleep(0.1)
        assert gate.waiting == 2  # the App's start slots: the rest wait their turn
        waiting = [(await tenant(owner, slug))["state_reason"] for slug in slugs]
        assert sum("waiting to start" in (reason or "") for reason in waiting) == 4
        gate.open()
        await running.settle()
        assert {(await tenant(owner, slug))["state"] for slug in slugs} == {"running"}
