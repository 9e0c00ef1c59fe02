"""Every committed change of a tenant's state or address is announced (the router listens):
in-process observers here on SQLite; `pg_notify` on Postgres is shown by the L4 spec."""

from __future__ import annotations

import uuid

import pytest
from cial_app.errors import NotFound
from cial_app.tenants.changes import ChangeKind, TenantChange
from cial_app.tenants.states import TenantState

from testkit.owner import act, create

from .conftest import Client, Running, running_tenant


def record(running: Running) -> list[TenantChange]:
    seen: list[TenantChange] = []
    running.services.tenant_store.observers.subscribe(seen.append)
    return seen


class TestAnnounced:
    async def test_a_new_tenant_is_announced_through_each_state_up_to_its_upstream(
        self, running: Running, owner: Client
    ) -> None:
        seen = record(running)
        await create(owner, "acme")
        await running.settle()
        assert [(c.kind, c.state) for c in seen] == [
            (ChangeKind.CREATED, "provisioning"),
            (ChangeKind.STATE, "starting"),
            (ChangeKind.STATE, "running"),
        ]
        assert {c.slug for c in seen} == {"acme"}
        # Only `running` carries where the router will dial: never an address it must not use yet.
        assert [(c.upstream_host, c.upstream_port) for c in seen] == [
            (None, None),
            (None, None),
            ("cial-tenant-acme", 8080),
        ]

    async def test_stop_start_and_delete_are_announced(self, running: Running, owner: Client) -> None:
        await running_tenant(running, owner)
        seen = record(running)
        await act(owner, "acme", "stop")
        await running.settle()
        await act(owner, "acme", "start")
        await running.settle()
        await owner.delete("/api/admin/tenants/acme")
        states = [(c.kind, c.state) for c in seen]
        assert states == [
            (ChangeKind.STATE, "stopping"),
            (ChangeKind.STATE, "stopped"),
            (ChangeKind.STATE, "starting"),
            (ChangeKind.ADDRESS, "starting"),  # its machine is known (not routable yet)
            (ChangeKind.STATE, "running"),
            (ChangeKind.STATE, "deleting"),
            (ChangeKind.DELETED, None),
        ]
        stopped = seen[1]
        assert (stopped.upstream_host, stopped.upstream_port) == (None, None)

    async def test_a_machine_that_moved_by_itself_is_announced_as_an_address_change(
        self, running: Running, owner: Client
    ) -> None:
        body = await running_tenant(running, owner)
        running.engine.memory.kill(body["id"])
        await running.reconcile()  # started again by the repair: a state change
        seen = record(running)
        # The engine's restart policy brings it back behind the App's back, on a new port.
        await running.engine.memory.stop(body["id"])
        await running.engine.memory.start(body["id"])
        await running.reconcile()
        assert [(c.kind, c.slug) for c in seen] == [(ChangeKind.ADDRESS, "acme")]

    async def test_a_change_that_rolls_back_is_not_announced(self, running: Running, owner: Client) -> None:
        seen = record(running)
        store = running.services.tenant_store
        with pytest.raises(NotFound):
            await store.transition(uuid.uuid4(), TenantState.RUNNING, "no such tenant")
        assert seen == []

    async def test_a_failing_observer_does_not_undo_the_write_nor_silence_the_others(
        self, running: Running, owner: Client
    ) -> None:
        def broken(change: TenantChange) -> None:
            raise RuntimeError("observer bug")

        running.services.tenant_store.observers.subscribe(broken)
        seen = record(running)
        assert (await create(owner, "acme"))["state"] == "provisioning"
        assert [c.kind for c in seen][:1] == [ChangeKind.CREATED]


class TestPayload:
    def test_a_change_survives_the_json_it_travels_as(self) -> None:
        change = TenantChange(ChangeKind.STATE, uuid.uuid4(), "acme", "running", "cial-tenant-acme", 8080)
        assert TenantChange.from_json(change.to_json()) == change
