"""A tenants table that lost rows (empty, restored from an old backup, the wrong database) costs
no tenant its data: the reconciler stops what it does not know and keeps it; the owner sees it
in quarantine and restores it (same id, slug and volume) or deletes it for good."""

from __future__ import annotations

import uuid
from typing import Any

from cial_app.orchestrator import MachineState

from testkit.owner import create, tenant

from .conftest import Client, Running, post_form, running_tenant


async def lose_row(running: Running, slug: str) -> dict[str, Any]:
    """What a wiped or restored database does to one tenant: its row is gone, its machine is not."""
    store = running.services.tenant_store
    record = await store.by_slug(slug)
    assert record is not None
    await store.delete(record.id)
    return {"id": str(record.id), "slug": slug}


class TestQuarantine:
    async def test_a_tenant_whose_row_is_gone_keeps_its_volume_through_many_rounds(
        self, running: Running, owner: Client
    ) -> None:
        body = await running_tenant(running, owner)
        await lose_row(running, "acme")
        for _ in range(5):
            await running.reconcile()
        [machine] = await running.engine.machines_of(body["id"])
        assert machine.state is MachineState.STOPPED
        assert len(await running.engine.volumes_of(body["id"])) == 1
        listed = (await owner.get("/api/admin/quarantine")).json()
        assert [(q["tenant_id"], q["slug"]) for q in listed] == [(body["id"], "acme")]
        assert listed[0]["volumes"] == [f"cial-tenant-{body['id']}-data"]
        assert [c["state"] for c in listed[0]["containers"]] == ["stopped"]

    async def test_restoring_brings_the_tenant_back_with_its_id_and_volume_and_starts_it(
        self, running: Running, owner: Client
    ) -> None:
        body = await running_tenant(running, owner)
        await lose_row(running, "acme")
        await running.reconcile()
        response = await owner.post(f"/api/admin/quarantine/{body['id']}/restore")
        assert response.status_code == 201, response.text
        assert response.json()["id"] == body["id"]
        await running.settle()
        back = await tenant(owner, "acme")
        assert (back["id"], back["state"]) == (body["id"], "running")
        assert len(await running.engine.machines_of(body["id"])) == 1
        assert len(await running.engine.volumes_of(body["id"])) == 1
        assert (await owner.get("/api/admin/quarantine")).json() == []

    async def test_restoring_refuses_a_slug_another_tenant_took_meanwhile(
        self, running: Running, owner: Client
    ) -> None:
        body = await running_tenant(running, owner)
        await lose_row(running, "acme")
        await running.reconcile()
        await create(owner, "acme")
        response = await owner.post(f"/api/admin/quarantine/{body['id']}/restore")
        assert response.status_code == 409
        assert "belongs to another tenant" in response.json()["message"]

    async def test_only_the_owners_explicit_delete_removes_the_data(
        self, running: Running, owner: Client
    ) -> None:
        body = await running_tenant(running, owner)
        await lose_row(running, "acme")
        await running.reconcile()
        assert (await owner.delete(f"/api/admin/quarantine/{body['id']}")).status_code == 204
        assert await running.engine.machines_of(body["id"]) == []
        assert await running.engine.volumes_of(body["id"]) == []
        assert (await owner.get("/api/admin/quarantine")).json() == []

    async def test_a_known_tenant_or_a_made_up_id_is_not_in_quarantine(
        self, running: Running, owner: Client
    ) -> None:
        body = await running_tenant(running, owner)
        for tenant_id in (body["id"], str(uuid.uuid4()), "not-a-uuid"):
            assert (await owner.delete(f"/api/admin/quarantine/{tenant_id}")).status_code == 404
            assert (await owner.post(f"/api/admin/quarantine/{tenant_id}/restore")).status_code == 404
        assert len(await running.engine.machines_of(body["id"])) == 1

    async def test_only_the_owner_sees_or_touches_the_quarantine(self, client: Client) -> None:
        assert (await client.get("/api/admin/quarantine")).status_code == 401


class TestQuarantineInTheAdmin:
    async def test_the_tenants_page_lists_it_and_restores_it(self, running: Running, owner: Client) -> None:
        body = await running_tenant(running, owner)
        await lose_row(running, "acme")
        await running.reconcile()
        page = await owner.get("/admin")
        assert 'id="quarantine"' in page.text and body["id"] in page.text
        response = await post_form(owner, f"/admin/quarantine/{body['id']}/restore", {}, token_from="/admin")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/admin?restored=acme")
        await running.settle()
        page = await owner.get("/admin")
        assert "restored from quarantine" in (await owner.get("/admin?restored=acme")).text
        assert 'id="quarantine"' not in page.text
        assert (await tenant(owner, "acme"))["state"] == "running"

    async def test_deleting_for_good_needs_the_slug_typed(self, running: Running, owner: Client) -> None:
        body = await running_tenant(running, owner)
        await lose_row(running, "acme")
        await running.reconcile()
        path = f"/admin/quarantine/{body['id']}/delete"
        refused = await post_form(owner, path, {"confirm": "nope"}, token_from="/admin")
        assert "Type%20acme%20to%20confirm" in refused.headers["location"]
        assert len(await running.engine.volumes_of(body["id"])) == 1
        done = await post_form(owner, path, {"confirm": "acme"}, token_from="/admin")
        assert done.headers["location"].startswith("/admin?purged=acme")
        assert await running.engine.volumes_of(body["id"]) == []
        assert "Quarantined tenant &#39;acme&#39; deleted" in (await owner.get("/admin?purged=acme")).text

    async def test_the_page_still_shows_when_the_engine_cannot_list(
        self, running: Running, owner: Client
    ) -> None:
        await running_tenant(running, owner)
        running.engine.engine_up = False
        page = await owner.get("/admin")
        assert page.status_code == 200
        assert "Quarantined tenants cannot be listed now" in page.text
