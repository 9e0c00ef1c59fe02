"""Provisioning in the background: the create request answers at once, the tenant then goes
provisioning -> starting -> running, or to error with the reason; one bring-up per tenant at a
time; shutdown cancels the work and the next boot finishes it."""

from __future__ import annotations

import asyncio
import uuid

from cial_app.orchestrator import MachineState, PortConflict
from cial_app.settings import Settings

from testkit.owner import create, history, reasons, tenant

from .conftest import OWNER, REMOTE, Client, Running, run_app, with_
from .fakes import FakeEngine


class TestBackgroundProvisioning:
    async def test_create_answers_at_once_while_the_container_is_still_being_made(
        self, running: Running, owner: Client
    ) -> None:
        gate = running.engine.hold("create")
        body = await create(owner, "acme")
        assert body["state"] == "provisioning"
        assert body["desired_state"] == "running"
        await asyncio.wait_for(gate.arrived.wait(), 5)
        assert (await tenant(owner, "acme"))["state"] == "provisioning"
        gate.open()
        await running.settle()
        assert (await tenant(owner, "acme"))["state"] == "running"

    async def test_the_tenant_goes_provisioning_starting_running_and_records_its_container(
        self, running: Running, owner: Client
    ) -> None:
        await create(owner, "acme")
        await running.settle()
        body = await tenant(owner, "acme")
        [machine] = await running.engine.machines_of(body["id"])
        assert body["state"] == "running"
        assert body["machine_id"] == machine.id
        assert body["published_port"] == machine.published_port is not None
        assert await history(owner, "acme") == [
            (None, "provisioning"),
            ("provisioning", "starting"),
            ("starting", "running"),
        ]
        assert "answered /.cial/api/healthz" in (await reasons(owner, "acme"))[-1]

    async def test_the_container_follows_the_recipe_in_the_settings(self, settings: Settings) -> None:
        engine = FakeEngine(images=("cial-tenant:v2",))
        recipe = with_(
            settings, tenant_image="cial-tenant:v2", tenant_memory_bytes=512 * 2**20, tenant_pids_limit=64
        )
        async with run_app(recipe, engine) as app:
            await app.client.post("/api/auth/sign-up/email", json=OWNER)
            body = await create(app.client, "acme")
            await app.settle()
            [machine] = await engine.machines_of(body["id"])
            [volume] = await engine.volumes_of(body["id"])
        assert machine.image == "cial-tenant:v2"
        assert machine.name == "cial-tenant-acme"
        assert volume.name == f"cial-tenant-{body['id']}-data"
        assert machine.volume == volume.name
        assert (volume.tenant_id, volume.slug) == (body["id"], "acme")

    async def test_each_step_is_one_engine_call(self, running: Running, owner: Client) -> None:
        await create(owner, "acme")
        await running.settle()
        assert running.engine.count("create") == 1
        assert running.engine.count("health") == 1


class TestProvisioningErrors:
    async def test_a_missing_image_ends_in_error_with_the_reason(self, settings: Settings) -> None:
        async with run_app(with_(settings, tenant_image="cial-tenant:nope")) as app:
            await app.client.post("/api/auth/sign-up/email", json=OWNER)
            await create(app.client, "acme")
            await app.settle()
            body = await tenant(app.client, "acme")
            assert body["state"] == "error"
            assert "cial-tenant:nope" in body["state_reason"]
            assert "not found" in body["state_reason"]
            assert await history(app.client, "acme") == [(None, "provisioning"), ("provisioning", "error")]

    async def test_a_tenant_that_never_answers_its_health_check_ends_in_error(
        self, running: Running, owner: Client
    ) -> None:
        running.engine.unhealthy["acme"] = "connection refused"
        await create(owner, "acme")
        await running.settle()
        body = await tenant(owner, "acme")
        assert body["state"] == "error"
        assert "did not answer /.cial/api/healthz" in body["state_reason"]
        assert "connection refused" in body["state_reason"]
        # The container it made is recorded: the owner can read its logs.
        assert body["machine_id"] is not None
        assert await history(owner, "acme") == [
            (None, "provisioning"),
            ("provisioning", "starting"),
            ("starting", "error"),
        ]

    async def test_a_port_clash_ends_in_error_with_the_reason(self, running: Running, owner: Client) -> None:
        running.engine.failures["create"] = PortConflict(
            "could not create the container: 127.0.0.1:49153 is already in use"
        )
        await create(owner, "acme")
        await running.settle()
        body = await tenant(owner, "acme")
        assert body["state"] == "error"
        assert "49153 is already in use" in body["state_reason"]

    async def test_an_unreachable_engine_ends_in_error_and_the_api_still_answers(
        self, running: Running, owner: Client
    ) -> None:
        running.engine.engine_up = False
        body = await create(owner, "acme")
        assert body["state"] == "provisioning"
        await running.settle()
        body = await tenant(owner, "acme")
        assert body["state"] == "error"
        assert "engine" in body["state_reason"] and "down" in body["state_reason"]
        assert (await owner.get("/api/admin/tenants")).status_code == 200
        assert (await owner.get("/admin")).status_code == 200


class TestOneBringUpAtATime:
    async def test_a_reconcile_round_during_provisioning_does_not_start_a_second_one(
        self, running: Running, owner: Client
    ) -> None:
        gate = running.engine.hold("create")
        await create(owner, "acme")
        await asyncio.wait_for(gate.arrived.wait(), 5)
        await running.services.provisioning.loop.tick()
        await running.services.provisioning.loop.tick()
        assert gate.waiting == 1
        gate.open()
        await running.settle()
        assert running.engine.count("create") == 1
        assert len(await running.engine.machines_of((await tenant(owner, "acme"))["id"])) == 1

    async def test_an_owner_action_during_provisioning_is_refused_not_doubled(
        self, running: Running, owner: Client
    ) -> None:
        gate = running.engine.hold("create")
        await create(owner, "acme")
        await asyncio.wait_for(gate.arrived.wait(), 5)
        for verb in ("start", "restart", "stop"):
            response = await owner.post(f"/api/admin/tenants/acme/{verb}")
            assert response.status_code == 409, verb
        gate.open()
        await running.settle()
        assert running.engine.count("create") == 1


class TestShutdownAndRecovery:
    async def test_shutdown_cancels_provisioning_and_the_next_boot_finishes_it(
        self, settings: Settings
    ) -> None:
        engine = FakeEngine()
        gate = engine.hold("health")
        async with run_app(settings, engine) as app:
            await app.client.post("/api/auth/sign-up/email", json=OWNER)
            body = await create(app.client, "acme")
            await asyncio.wait_for(gate.arrived.wait(), 5)
            jobs = app.services.provisioning.work.jobs
        # The App is down: its job was cancelled (not left running), the tenant is mid-way.
        assert len(jobs) == 0
        # With the remote driver the App closes its client; the engine is the service's to close.
        assert engine.closed or REMOTE
        engine.gates.clear()
        async with run_app(settings, engine) as app:
            await app.client.post(
                "/api/auth/sign-in/email", json={"email": OWNER["email"], "password": OWNER["password"]}
            )
            await app.settle()
            after = await tenant(app.client, "acme")
            assert after["state"] == "running"
            assert len(await engine.machines_of(body["id"])) == 1
            assert await history(app.client, "acme") == [
                (None, "provisioning"),
                ("provisioning", "starting"),
                ("starting", "running"),
            ]

    async def test_a_tenant_left_in_provisioning_with_its_container_made_ends_with_one_container(
        self, settings: Settings
    ) -> None:
        engine = FakeEngine()
        gate = engine.hold("create")
        async with run_app(settings, engine) as app:
            await app.client.post("/api/auth/sign-up/email", json=OWNER)
            body = await create(app.client, "acme")
            await asyncio.wait_for(gate.arrived.wait(), 5)
            gate.open()  # the engine makes the container, but the App is going down meanwhile
        machines = await engine.machines_of(body["id"])
        assert [m.state for m in machines] == [MachineState.RUNNING]
        engine.gates.clear()
        async with run_app(settings, engine) as app:
            await app.settle()
            assert len(await engine.machines_of(body["id"])) == 1
            assert (await app.services.tenant_store.by_id(uuid.UUID(body["id"]))) is not None
            row = await app.services.tenant_store.by_id(uuid.UUID(body["id"]))
            assert row is not None and row.state.value == "running"


class TestStartSlots:
    async def test_no_more_tenants_boot_at_once_than_there_are_slots_and_the_rest_wait_their_turn(
        self, settings: Settings
    ) -> None:
        engine = FakeEngine()
        gate = engine.hold("health")
        async with run_app(with_(settings, max_parallel_starts=2), engine) as app:
            await app.client.post("/api/auth/sign-up/email", json=OWNER)
            for slug in ("one", "two", "three"):
                await create(app.client, slug)
            await asyncio.wait_for(gate.arrived.wait(), 5)
            await asyncio.sleep(0.1)  # time for a third boot to begin, if it could
            assert engine.count("create") == 2
            assert gate.waiting == 2
            third = await tenant(app.client, "three")
            assert third["state"] == "provisioning"
            assert "waiting to start: 2 tenants are starting" in third["state_reason"]
            assert "at most 2 start at once" in third["state_reason"]
            gate.open()
            await app.settle()
            states = [(await tenant(app.client, slug))["state"] for slug in ("one", "two", "three")]
        assert states == ["running", "running", "running"]
        assert engine.count("create") == 3

    async def test_a_tenant_deleted_while_it_waits_for_a_slot_is_never_started(
        self, settings: Settings
    ) -> None:
        engine = FakeEngine()
        gate = engine.hold("health")
        async with run_app(with_(settings, max_parallel_starts=1), engine) as app:
            await app.client.post("/api/auth/sign-up/email", json=OWNER)
            await create(app.client, "first")
            await asyncio.wait_for(gate.arrived.wait(), 5)
            await create(app.client, "second")
            await asyncio.sleep(0.1)
            assert (await app.client.delete("/api/admin/tenants/second")).status_code in (200, 202, 204)
            gate.open()
            await app.settle()
            assert (await app.client.get("/api/admin/tenants/second")).status_code == 404
        assert [slug for _, slug in engine.calls if _ == "create"] == ["first"]
