"""The tenants API: the owner creates, lists and reads tenants; bad input gets a 400 that names
the rule; nothing is reachable without the owner's session."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import pytest
from cial_app.orchestrator import Endpoint
from cial_app.provisioning import ActionResult, TenantLogs
from cial_app.tenants.service import TenantService
from cial_app.tenants.states import TenantState
from cial_app.tenants.store import Placement, TenantRecord, TenantStore
from cial_app.tenants.tables import Tenant, TenantEvent

from .conftest import Client

TENANT_FIELDS = {
    "id", "slug", "name", "state", "state_reason", "desired_state", "machine_id", "published_port", "url",
    "created_at", "updated_at", "idle_after_seconds",
}  # fmt: skip


async def create(client: Client, slug: str, name: str = "Acme Inc.") -> tuple[int, dict[str, object]]:
    response = await client.post("/api/admin/tenants", json={"slug": slug, "name": name})
    return response.status_code, response.json()


class TestCreateTenant:
    async def test_owner_creates_a_tenant_in_state_provisioning(self, owner: Client) -> None:
        status, body = await create(owner, "acme")
        assert status == 201
        assert set(body) == TENANT_FIELDS
        assert body["slug"] == "acme"
        assert body["name"] == "Acme Inc."
        assert body["state"] == "provisioning"
        assert body["machine_id"] is None
        assert body["published_port"] is None
        uuid.UUID(str(body["id"]))
        datetime.fromisoformat(str(body["created_at"]))

    async def test_the_new_tenant_is_listed_and_readable_by_slug(self, owner: Client) -> None:
        await create(owner, "acme")
        await create(owner, "globex", "Globex")
        listing = (await owner.get("/api/admin/tenants")).json()
        assert [t["slug"] for t in listing] == ["acme", "globex"]
        one = await owner.get("/api/admin/tenants/globex")
        assert one.status_code == 200
        assert one.json()["name"] == "Globex"

    async def test_creation_is_recorded_as_the_first_tenant_event(self, owner: Client) -> None:
        await create(owner, "acme")
        # Provisioning runs in the background and may have moved on already: the oldest event.
        events = (await owner.get("/api/admin/tenants/acme/events")).json()
        first = events[-1]
        assert first["from_state"] is None
        assert first["to_state"] == "provisioning"
        assert first["reason"]

    async def test_the_tenant_belongs_to_the_owner(self, owner: Client) -> None:
        await create(owner, "acme")
        me = (await owner.get("/api/auth/get-session")).json()["user"]["id"]
        row = await Tenant.select(Tenant.owner).where(Tenant.slug == "acme").first()
        assert row is not None
        assert str(row["owner_id"]) == me  # the column is named owner_id in the database

    async def test_name_is_trimmed(self, owner: Client) -> None:
        status, body = await create(owner, "acme", "  Acme  ")
        assert status == 201
        assert body["name"] == "Acme"

    async def test_a_taken_slug_gets_409(self, owner: Client) -> None:
        await create(owner, "acme")
        status, body = await create(owner, "acme", "Another")
        assert status == 409
        assert body["code"] == "slug_taken"
        assert body["field"] == "slug"
        assert await Tenant.count() == 1

    async def test_racing_creates_with_one_slug_make_one_tenant(self, owner: Client) -> None:
        results = await asyncio.gather(*(create(owner, "acme", f"Acme {i}") for i in range(5)))
        assert sorted(status for status, _ in results) == [201, 409, 409, 409, 409]
        assert await Tenant.count() == 1


class TestSlugRules:
    @pytest.mark.parametrize("slug", ["ab", "acme", "a-b", "a1", "0123", "x" * 40, "my-shop-2"])
    async def test_good_slugs_are_accepted(self, owner: Client, slug: str) -> None:
        status, _ = await create(owner, slug)
        assert status == 201

    @pytest.mark.parametrize(
        ("slug", "words"),
        [
            ("", "required"),
            ("a", "2 to 40"),
            ("x" * 41, "2 to 40"),
            ("Acme", "lowercase"),
            ("ac me", "lowercase"),
            ("acme_1", "lowercase"),
            ("acmé", "lowercase"),
            ("a.b", "lowercase"),
            ("ac\x00me", "lowercase"),
            ("-acme", "start or end"),
            ("acme-", "start or end"),
            ("--", "start or end"),
            ("xn--abc", "third and fourth"),
            ("www", "reserved"),
            ("admin", "reserved"),
            ("api", "reserved"),
            ("app", "reserved"),
        ],
    )
    async def test_bad_slugs_get_400_naming_the_rule(self, owner: Client, slug: str, words: str) -> None:
        status, body = await create(owner, slug)
        assert status == 400
        assert body["field"] == "slug"
        assert words in str(body["message"]).lower()
        assert await Tenant.count() == 0


class TestNameRules:
    @pytest.mark.parametrize(
        ("name", "words"),
        [("", "required"), ("   ", "required"), ("n" * 101, "at most 100"), ("a\nb", "control")],
    )
    async def test_bad_names_get_400(self, owner: Client, name: str, words: str) -> None:
        status, body = await create(owner, "acme", name)
        assert status == 400
        assert body["field"] == "name"
        assert words in str(body["message"]).lower()

    async def test_a_name_of_100_characters_is_accepted(self, owner: Client) -> None:
        status, body = await create(owner, "acme", "n" * 100)
        assert status == 201
        assert body["name"] == "n" * 100


class TestMalformedRequests:
    @pytest.mark.parametrize(
        "body",
        [b"{not json", b"", b"null", b"[]", b'"acme"', b'{"slug": "acme"}', b'{"name": "A"}',
         b'{"slug": 5, "name": "A"}', b'{"slug": "acme", "name": null}', b'{"slug": ["a"], "name": {}}'],
    )  # fmt: skip
    async def test_malformed_json_and_wrong_types_get_400_never_500(self, owner: Client, body: bytes) -> None:
        response = await owner.post(
            "/api/admin/tenants", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, response.text
        assert response.json()["status"] == 400
        assert response.json()["message"]

    async def test_a_missing_field_is_named(self, owner: Client) -> None:
        response = await owner.post("/api/admin/tenants", json={"slug": "acme"})
        assert response.status_code == 400
        assert "name" in response.json()["message"]

    async def test_an_unknown_slug_gets_404(self, owner: Client) -> None:
        for slug in ("nope", "NOPE", "%00", "a" * 300):
            response = await owner.get(f"/api/admin/tenants/{slug}")
            assert response.status_code == 404, slug
            assert response.json()["code"] == "not_found"


class TestOwnerOnly:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/api/admin/tenants"),
            ("GET", "/api/admin/tenants/acme"),
            ("GET", "/api/admin/tenants/acme/events"),
            ("POST", "/api/admin/tenants"),
        ],
    )
    async def test_without_a_session_every_route_gets_401(
        self, client: Client, method: str, path: str
    ) -> None:
        response = await client.request(method, path, json={"slug": "acme", "name": "Acme"})
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        assert await Tenant.count() == 0

    async def test_a_forged_session_cookie_gets_401(self, owner: Client) -> None:
        owner.cookies.set("cial_session", "forged-token")
        assert (await owner.get("/api/admin/tenants")).status_code == 401

    async def test_after_sign_out_the_api_is_closed_again(self, owner: Client) -> None:
        await owner.post("/api/auth/sign-out")
        assert (await owner.get("/api/admin/tenants")).status_code == 401


class RecordingProvisioner:
    """Stands in for the provisioning side: records what it is told, moves the tenant on.
    Only `provision` is used here; the other actions are the lifecycle tests' business."""

    def __init__(self, *, fail: bool = False) -> None:
        self.seen: list[TenantRecord] = []
        self.fail = fail
        self.store = TenantStore()

    async def provision(self, tenant: TenantRecord) -> None:
        self.seen.append(tenant)
        if self.fail:
            raise RuntimeError("engine unreachable")
        placement = Placement("c0ffee", Endpoint("cial-tenant-acme", 8080), 49153)
        await self.store.transition(tenant.id, TenantState.STARTING, "container created", placement=placement)

    async def start(self, tenant: TenantRecord) -> ActionResult:
        raise AssertionError("not used by these tests")

    stop = restart = delete = idle = wake = start

    async def logs(self, tenant: TenantRecord, tail: int = 100) -> TenantLogs:
        raise AssertionError("not used by these tests")


async def owner_id(client: Client) -> uuid.UUID:
    return uuid.UUID((await client.get("/api/auth/get-session")).json()["user"]["id"])


class TestProvisionerSeam:
    async def test_the_provisioner_hears_of_each_new_tenant_after_it_is_stored(self, owner: Client) -> None:
        provisioner = RecordingProvisioner()
        service = TenantService(TenantStore(), provisioner)
        tenant = await service.create(slug="acme", name="Acme", owner_id=await owner_id(owner))
        assert [t.slug for t in provisioner.seen] == ["acme"]
        assert provisioner.seen[0].state is TenantState.PROVISIONING
        # The answer is the tenant as stored, whatever the provisioner has done since.
        assert tenant.state is TenantState.PROVISIONING
        events = (await owner.get("/api/admin/tenants/acme/events")).json()
        assert [(e["from_state"], e["to_state"]) for e in events] == [
            ("provisioning", "starting"),
            (None, "provisioning"),
        ]

    async def test_a_failing_provisioner_leaves_the_tenant_in_error_with_the_reason(
        self, owner: Client
    ) -> None:
        service = TenantService(TenantStore(), RecordingProvisioner(fail=True))
        tenant = await service.create(slug="acme", name="Acme", owner_id=await owner_id(owner))
        assert tenant.state is TenantState.ERROR
        last = await TenantEvent.select().order_by(TenantEvent.id, ascending=False).first()
        assert last is not None
        assert "engine unreachable" in last["reason"]

    async def test_a_transition_of_a_vanished_tenant_is_not_found(self, owner: Client) -> None:
        from cial_app.errors import NotFound

        with pytest.raises(NotFound):
            await TenantStore().transition(uuid.uuid4(), TenantState.RUNNING, "late news")
