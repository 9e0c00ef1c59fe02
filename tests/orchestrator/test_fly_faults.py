"""The Fly driver under the faults Fly is known for, on the fake Machines API with a fake clock:
408 from wait, 409 from a held lease, 429, a POST answered 503 although applied, a list that is
stale once, a crash mid-create, and a cancelled operation's lease."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from cial_app.orchestrator import (
    EngineError,
    HealthTimeout,
    MachineBusy,
    MachineCrashed,
    MachineSpec,
    MachineState,
    MachineTemplate,
)
from cial_app.orchestrator.base import MiB
from cial_app.orchestrator.fly import FlyOrchestrator

from testkit.fly_fake import FakeClock, FlyFake, fly_driver, unleased_mutations

MACHINES = r"/v1/apps/[^/]+/machines"


@pytest.fixture
def fake() -> FlyFake:
    return FlyFake(token="fake-fly-token", clock=FakeClock())


@pytest.fixture
async def fly(fake: FlyFake) -> FlyOrchestrator:
    return fly_driver(fake)


@pytest.fixture
def spec() -> MachineSpec:
    return MachineTemplate().spec_for(str(uuid.uuid4()), f"fx-{uuid.uuid4().hex[:8]}")


def posts(fake: FlyFake) -> int:
    return fake.count("POST", MACHINES)


class TestCreateIsAnEnsure:
    async def test_a_post_answered_503_but_applied_is_adopted_not_resent(
        self, fake: FlyFake, fly: FlyOrchestrator, spec: MachineSpec
    ) -> None:
        fake.faults.create_503_applied = 1
        machine = await fly.create(spec)
        assert machine.state is MachineState.RUNNING
        assert posts(fake) == 1 and len(fake.machines()) == 1

    async def test_a_list_stale_once_creates_no_duplicate(
        self, fake: FlyFake, fly: FlyOrchestrator, spec: MachineSpec
    ) -> None:
        first = await fly.create(spec)
        fake.faults.stale_list = 1
        again = await fly.create(spec)
        assert again.id == first.id
        assert posts(fake) == 1 and len(fake.machines()) == 1

    async def test_a_crash_after_the_post_is_adopted_by_the_next_process(
        self, fake: FlyFake, fly: FlyOrchestrator, spec: MachineSpec
    ) -> None:
        fake.wait_gate = asyncio.Event()
        first = asyncio.create_task(fly.create(spec))
        await fake.waiting.wait()  # POSTed, now waiting for `started`: the process dies here
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        fake.wait_gate = None
        assert fake.leases == {}, "the create's lease was not released on cancel"
        successor = fly_driver(fake)  # a new App process, which recorded nothing
        machine = await successor.create(spec)
        assert machine.state is MachineState.RUNNING
        assert posts(fake) == 1 and len(fake.machines()) == 1

    async def test_a_post_answer_without_its_lease_and_reading_created_is_only_waited_for(
        self, fake: FlyFake, fly: FlyOrchestrator, spec: MachineSpec
    ) -> None:
        fake.faults.create_answer_bare = 1
        assert (await fly.create(spec)).state is MachineState.RUNNING
        assert fake.count("POST", rf"{MACHINES}/[^/]+/(start|lease)") == 0

    async def test_memory_is_rounded_up_to_fly_steps_of_256_mb(
        self, fake: FlyFake, fly: FlyOrchestrator, spec: MachineSpec
    ) -> None:
        from dataclasses import replace

        await fly.create(replace(spec, memory_bytes=300 * MiB))
        assert fake.machines()[0]["config"]["guest"]["memory_mb"] == 512


class TestWaits:
    async def test_408_from_wait_is_retried(
        self, fake: FlyFake, fly: FlyOrchestrator, spec: MachineSpec
    ) -> None:
        fake.faults.wait_408 = 3
        assert (await fly.create(spec)).state is MachineState.RUNNING
        assert fake.count("GET", rf"{MACHINES}/[^/]+/wait") == 4

    async def test_a_wait_past_our_deadline_is_a_typed_timeout(
        self, fake: FlyFake, spec: MachineSpec
    ) -> None:
        fly = fly_driver(fake, deadline=150.0)
        fake.faults.wait_408 = 100
        start = fake.clock()
        with pytest.raises(HealthTimeout) as caught:
            await fly.create(spec)
        assert "not started within 150 s" in caught.value.reason
        # three slices of at most 60 s (60, 60, 30), never one longer than Fly allows
        assert fake.count("GET", rf"{MACHINES}/[^/]+/wait") == 3
        assert 150 <= fake.clock() - start < 160
        assert fake.leases == {}

    async def test_a_start_that_fails_says_so(
        self, fake: FlyFake, fly: FlyOrchestrator, spec: MachineSpec
    ) -> None:
        fake.faults.start_fails = 1
        with pytest.raises(MachineCrashed) as caught:
            await fly.create(spec)
        assert "failed" in caught.value.reason


class TestLeases:
    async def test_a_lease_held_a_while_is_waited_for(
        self, fake: FlyFake, fly: FlyOrchestrator, spec: MachineSpec
    ) -> None:
        await fly.create(spec)
        fake.faults.lease_409 = 2
        assert (await fly.stop(spec.tenant_id)).state is MachineState.STOPPED

    async def test_a_lease_someone_keeps_fails_typed_with_a_reason(
        self, fake: FlyFake, fly: FlyOrchestrator, spec: MachineSpec
    ) -> None:
        await fly.create(spec)
        fake.hold_lease(fake.machines()[0]["id"], ttl=600)
        with pytest.raises(MachineBusy) as caught:
            await fly.stop(spec.tenant_id)
        assert "held by another operation" in caught.value.reason and "flyctl" in caught.value.reason
        assert fake.count("POST", rf"{MACHINES}/[^/]+/stop") == 0
        assert (await fly.status(spec.tenant_id)).state is MachineState.RUNNING

    async def test_every_change_carries_the_nonce(
        self, fake: FlyFake, fly: FlyOrchestrator, spec: MachineSpec
    ) -> None:
        await fly.create(spec)
        await fly.restart(spec.tenant_id)
        await fly.destroy(spec.tenant_id)
        assert fake.count("POST", rf"{MACHINES}/[^/]+/(stop|start)") >= 2
        assert unleased_mutations(fake) == []


class TestRateLimits:
    async def test_429_on_a_read_is_retried(
        self, fake: FlyFake, fly: FlyOrchestrator, spec: MachineSpec
    ) -> None:
        await fly.create(spec)
        fake.faults.rate_429 = 2
        assert (await fly.status(spec.tenant_id)).state is MachineState.RUNNING

    async def test_the_client_paces_itself_under_fly_limits(
        self, fake: FlyFake, fly: FlyOrchestrator, spec: MachineSpec
    ) -> None:
        await fly.create(spec)
        for _ in range(4):
            await fly.restart(spec.tenant_id)
        for _ in range(20):
            await fly.status(spec.tenant_id)
        assert fake.rate_limited == 0
        assert fly.api.pacer.waited > 0  # it did have to wait: the test reaches the limits

    async def test_a_refused_token_names_the_setting(self, fake: FlyFake, spec: MachineSpec) -> None:
        fly = fly_driver(fake)
        fake.token = "another"  # the token was revoked, or CIAL_FLY_TOKEN is a stale one
        with pytest.raises(EngineError) as caught:
            await fly.create(spec)
        assert "CIAL_FLY_TOKEN" in caught.value.reason


class TestNoNeedlessChanges:
    async def test_start_of_a_started_machine_sends_no_change_and_takes_no_lease(
        self, fake: FlyFake, fly: FlyOrchestrator, spec: MachineSpec
    ) -> None:
        await fly.create(spec)
        before = len(fake.requests)
        await fly.start(spec.tenant_id)
        assert [method for method, _, _ in fake.requests[before:]] == ["GET"] * (len(fake.requests) - before)

    async def test_ten_tenants_created_at_once_are_ten_machines(
        self, fake: FlyFake, fly: FlyOrchestrator
    ) -> None:
        template = MachineTemplate()
        specs = [template.spec_for(str(uuid.uuid4()), f"many-{i}") for i in range(10)]
        machines = await asyncio.gather(*(fly.create(s) for s in specs))
        assert all(m.state is MachineState.RUNNING for m in machines)
        assert len(fake.machines()) == 10 and posts(fake) == 10
        # Requests paced apart can still arrive together on the shared fake clock: the few 429s
        # that causes are resent (reads) or were refused before anything was applied.
        assert fake.rate_limited <= 3
