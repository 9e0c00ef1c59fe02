"""L2: the owner creates tenants in the admin; bad input gets its status and message; rows persist.

Against compose.yml (real Postgres, the App's image) and a real headless Chromium.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from spec.app_client import signed_in_page
from spec.containers import ComposeStack
from testkit.owner import Owner, signed_in, tenant

pytestmark = pytest.mark.docker

OWNER = Owner(name="Grace Owner", email="grace@example.com")
# Every state a new tenant may show while it is brought up; L2's own is the first.
BRINGING_UP = {"provisioning", "starting", "running"}


@pytest.fixture(scope="module")
def owner_stack(stack: ComposeStack) -> ComposeStack:
    stack.fresh()
    signed_in(stack.app_url, OWNER, setup_token=stack.setup_token).close()
    return stack


@pytest.fixture
def api(owner_stack: ComposeStack) -> Iterator[httpx.Client]:
    client = signed_in(owner_stack.app_url, OWNER, setup_token=owner_stack.setup_token)
    yield client
    client.close()


class TestCreateTenantInTheBrowser:
    def test_new_tenant_form_adds_the_tenant_to_the_list_as_provisioning(
        self, owner_stack: ComposeStack, browser: Browser
    ) -> None:
        page = signed_in_page(browser, owner_stack.app_url, OWNER)

        page.get_by_label("Slug").fill("acme")
        page.get_by_label("Name").fill("Acme Inc.")
        page.get_by_role("button", name="Create tenant").click()

        row = page.locator('#tenants tr[data-slug="acme"]')
        expect(row).to_be_visible()
        expect(row).to_contain_text("Acme Inc.")
        assert row.locator(".state").inner_text().strip() in BRINGING_UP
        # The tenant's history starts at `provisioning`, whatever later phases did since.
        page.goto(f"{owner_stack.app_url}/admin/tenants/acme")
        expect(page.locator("body")).to_contain_text("provisioning")
        page.close()

    def test_an_invalid_slug_is_reported_next_to_the_field_and_values_are_kept(
        self, owner_stack: ComposeStack, browser: Browser
    ) -> None:
        page = signed_in_page(browser, owner_stack.app_url, OWNER)

        page.get_by_label("Slug").fill("Bad_Slug")
        page.get_by_label("Name").fill("Kept Name")
        page.get_by_role("button", name="Create tenant").click()

        expect(page.locator("#slug-error")).to_contain_text("lowercase")
        expect(page.get_by_label("Name")).to_have_value("Kept Name")
        assert page.locator('#tenants tr[data-slug="bad_slug"]').count() == 0
        page.close()


class TestTenantsApiRefusesBadInput:
    @pytest.mark.parametrize(
        ("slug", "rule"),
        [
            ("a", "2 to 40"),
            ("x" * 41, "2 to 40"),
            ("Acme", "lowercase"),
            ("ac me", "lowercase"),
            ("-acme", "start or end"),
            ("acme-", "start or end"),
            ("admin", "reserved"),
            ("www", "reserved"),
            ("", "required"),
        ],
    )
    def test_a_slug_breaking_a_rule_gets_400_naming_the_rule(
        self, api: httpx.Client, slug: str, rule: str
    ) -> None:
        response = api.post("/api/admin/tenants", json={"slug": slug, "name": "Some Name"})
        assert response.status_code == 400, response.text
        assert rule in response.text

    def test_a_taken_slug_gets_409(self, api: httpx.Client) -> None:
        assert api.post("/api/admin/tenants", json={"slug": "taken", "name": "First"}).status_code == 201
        second = api.post("/api/admin/tenants", json={"slug": "taken", "name": "Second"})
        assert second.status_code == 409
        assert "taken" in second.text

    @pytest.mark.parametrize("name", ["", "   ", "n" * 101])
    def test_a_missing_or_over_long_name_gets_400(self, api: httpx.Client, name: str) -> None:
        response = api.post("/api/admin/tenants", json={"slug": "named", "name": name})
        assert response.status_code == 400
        assert "name" in response.text.lower()

    @pytest.mark.parametrize(
        "body",
        [
            b"{not json",
            b"[]",
            b'{"slug": 7, "name": "x"}',
            b'{"slug": "ok-slug"}',
            b'{"slug": null, "name": []}',
        ],
    )
    def test_malformed_json_or_wrong_types_get_400_never_500(self, api: httpx.Client, body: bytes) -> None:
        response = api.post("/api/admin/tenants", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400, response.text

    def test_without_a_session_the_api_answers_401(self, owner_stack: ComposeStack) -> None:
        assert httpx.get(f"{owner_stack.app_url}/api/admin/tenants").status_code == 401
        created = httpx.post(f"{owner_stack.app_url}/api/admin/tenants", json={"slug": "sneaky", "name": "x"})
        assert created.status_code == 401

    def test_a_created_tenant_has_the_documented_shape(self, api: httpx.Client) -> None:
        response = api.post("/api/admin/tenants", json={"slug": "shape", "name": "Shape Co"})
        assert response.status_code == 201
        body = response.json()
        assert set(body) >= {
            "id", "slug", "name", "state", "machine_id", "published_port", "url", "created_at", "updated_at",
        }  # fmt: skip
        assert body["state"] == "provisioning"
        assert body["slug"] == "shape"


class TestTenantsPersist:
    def test_a_tenant_survives_a_restart_of_postgres_and_the_app(
        self, owner_stack: ComposeStack, api: httpx.Client
    ) -> None:
        assert api.post("/api/admin/tenants", json={"slug": "durable", "name": "Durable"}).status_code == 201
        owner_stack.restart("postgres", "app-api")
        again = signed_in(owner_stack.app_url, OWNER, setup_token=owner_stack.setup_token)
        assert tenant(again, "durable")["name"] == "Durable"
        again.close()
