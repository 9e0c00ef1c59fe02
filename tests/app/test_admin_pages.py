"""The admin pages, driven like a browser without JavaScript: load a page, post its form."""

from __future__ import annotations

import re

import pytest
from cial_app.auth.tables import User
from cial_app.settings import Settings
from cial_app.tenants.tables import Tenant

from .conftest import OWNER, SAME_ORIGIN, Client, Running, form_token, post_form, with_


def field_error(page: str, field: str) -> str:
    """The message shown next to a field (bound to it with aria-describedby)."""
    assert f'aria-describedby="{field}-error"' in page, f"{field} is not marked invalid"
    match = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', page)
    assert match, f"no message next to {field}"
    return match.group(1)


def input_value(page: str, field: str) -> str:
    match = re.search(rf'<input id="{field}" name="{field}" type="[a-z]+" value="([^"]*)"', page)
    assert match, f"no input {field}"
    return match.group(1)


async def sign_up_with_form(client: Client) -> None:
    response = await post_form(client, "/admin/signup", OWNER, token_from="/admin/signup")
    assert response.status_code == 303, response.text


class TestRedirects:
    async def test_the_root_leads_to_the_admin(self, client: Client) -> None:
        response = await client.get("/")
        assert response.status_code in (301, 302, 303, 307, 308)
        assert response.headers["location"] == "/admin"

    async def test_admin_without_a_session_redirects_to_login(self, client: Client) -> None:
        response = await client.get("/admin")
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/login"

    async def test_tenant_page_without_a_session_redirects_to_login(self, client: Client) -> None:
        response = await client.get("/admin/tenants/acme")
        assert response.headers["location"] == "/admin/login"

    async def test_signup_redirects_to_login_once_an_owner_exists(self, owner: Client) -> None:
        await owner.post("/api/auth/sign-out")
        response = await owner.get("/admin/signup")
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/login"

    async def test_login_redirects_to_the_admin_when_already_signed_in(self, owner: Client) -> None:
        response = await owner.get("/admin/login")
        assert response.headers["location"] == "/admin"


class TestSignUpPage:
    async def test_the_form_asks_for_name_email_and_password(self, client: Client) -> None:
        page = await client.get("/admin/signup")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        for field in ("name", "email", "password"):
            assert f'name="{field}"' in page.text
        assert 'name="csrf_token"' in page.text

    async def test_signing_up_lands_on_an_empty_admin(self, client: Client) -> None:
        await sign_up_with_form(client)
        page = await client.get("/admin")
        assert page.status_code == 200
        assert "No tenants yet." in page.text
        assert OWNER["email"] in page.text

    async def test_a_sign_up_form_submitted_after_the_owner_exists_is_refused(self, client: Client) -> None:
        page = await client.get("/admin/signup")  # loaded while sign-up was still open
        await client.post("/api/auth/sign-up/email", json=OWNER)
        await client.post("/api/auth/sign-out")
        response = await client.post(
            "/admin/signup",
            data={"name": "Late", "email": "late@example.com", "password": "password123",
                  "csrf_token": form_token(page)},
            headers=SAME_ORIGIN,
        )  # fmt: skip
        assert response.status_code == 403
        assert "Sign-up is closed" in response.text
        assert 'href="/admin/login"' in response.text
        assert await User.count() == 1

    async def test_errors_show_next_to_the_field_and_values_are_kept(self, client: Client) -> None:
        response = await post_form(
            client, "/admin/signup", {**OWNER, "password": "short"}, token_from="/admin/signup"
        )
        assert response.status_code == 400
        assert "at least 8" in field_error(response.text, "password")
        assert input_value(response.text, "name") == OWNER["name"]
        assert input_value(response.text, "email") == OWNER["email"]
        assert OWNER["password"] not in response.text
        assert await User.count() == 0


class TestLoginPage:
    async def test_login_offers_sign_up_only_while_it_is_open(self, client: Client) -> None:
        assert "/admin/signup" in (await client.get("/admin/login")).text
        await client.post("/api/auth/sign-up/email", json=OWNER)
        await client.post("/api/auth/sign-out")
        assert "/admin/signup" not in (await client.get("/admin/login")).text

    async def test_signing_in_lands_on_the_admin(self, owner: Client) -> None:
        await owner.post("/api/auth/sign-out")
        response = await post_form(
            owner,
            "/admin/login",
            {"email": OWNER["email"], "password": OWNER["password"]},
            token_from="/admin/login",
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/admin"
        assert "cial_session=" in response.headers["set-cookie"]
        assert (await owner.get("/admin")).status_code == 200

    async def test_a_wrong_password_shows_one_message_and_keeps_the_email(self, owner: Client) -> None:
        await owner.post("/api/auth/sign-out")
        response = await post_form(
            owner, "/admin/login", {"email": OWNER["email"], "password": "wrong"}, token_from="/admin/login"
        )
        assert response.status_code == 401
        assert "Invalid email or password." in response.text
        assert input_value(response.text, "email") == OWNER["email"]

    async def test_too_many_failures_show_the_wait(self, settings: Settings) -> None:
        from cial_app.api.app import create_app
        from litestar.testing import AsyncTestClient

        from .conftest import BASE_URL

        # A first wait longer than the test, however slow the machine.
        app = create_app(with_(settings, signin_max_failures=2, signin_backoff_first_seconds=60))
        async with AsyncTestClient(app=app, base_url=BASE_URL) as client:
            client.follow_redirects = False
            for _ in range(2):
                await post_form(
                    client, "/admin/login", {"email": "a@b.c", "password": "x"}, token_from="/admin/login"
                )
            response = await post_form(
                client, "/admin/login", {"email": "a@b.c", "password": "x"}, token_from="/admin/login"
            )
        assert response.status_code == 429
        assert int(response.headers["retry-after"]) >= 1
        assert "Try again in" in response.text

    async def test_signing_out_returns_to_login_and_ends_the_session(self, owner: Client) -> None:
        response = await post_form(owner, "/admin/logout", {}, token_from="/admin")
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/login"
        assert (await owner.get("/admin")).headers["location"] == "/admin/login"
        assert (await owner.get("/api/auth/get-session")).json() is None


class TestTenantList:
    async def test_a_new_tenant_shows_in_the_list_as_provisioning(
        self, running: Running, owner: Client
    ) -> None:
        gate = running.engine.hold("create")  # the container is still being made
        response = await post_form(
            owner, "/admin/tenants", {"slug": "acme", "name": "Acme"}, token_from="/admin"
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/admin?created=acme"
        page = (await owner.get(response.headers["location"])).text
        row = re.search(r'<tr data-slug="acme"[^>]*>(.*?)</tr>', page, re.S)
        assert row, page
        assert "Acme" in row.group(1)
        assert "provisioning" in row.group(1)
        assert "UTC" in row.group(1)
        assert "Tenant &#39;acme&#39; created." in page
        gate.open()
        await running.settle()

    @pytest.mark.parametrize(
        ("fields", "field", "words", "status"),
        [
            ({"slug": "-acme", "name": "Acme"}, "slug", "start or end", 400),
            ({"slug": "Acme", "name": "Acme"}, "slug", "lowercase", 400),
            ({"slug": "admin", "name": "Acme"}, "slug", "reserved", 400),
            ({"slug": "acme", "name": ""}, "name", "required", 400),
            ({"slug": "acme", "name": "n" * 101}, "name", "at most 100", 400),
        ],
    )
    async def test_a_refused_tenant_shows_the_error_next_to_the_field_with_values_kept(
        self, owner: Client, fields: dict[str, str], field: str, words: str, status: int
    ) -> None:
        response = await post_form(owner, "/admin/tenants", fields, token_from="/admin")
        assert response.status_code == status
        assert words in field_error(response.text, field)
        assert input_value(response.text, "slug") == fields["slug"]
        assert input_value(response.text, "name") == fields["name"]
        assert await Tenant.count() == 0

    async def test_a_taken_slug_is_shown_as_taken(self, owner: Client) -> None:
        await owner.post("/api/admin/tenants", json={"slug": "acme", "name": "Acme"})
        response = await post_form(
            owner, "/admin/tenants", {"slug": "acme", "name": "Again"}, token_from="/admin"
        )
        assert response.status_code == 409
        assert "already taken" in field_error(response.text, "slug")

    async def test_names_are_escaped(self, owner: Client) -> None:
        await owner.post("/api/admin/tenants", json={"slug": "acme", "name": "<script>alert(1)</script>"})
        page = (await owner.get("/admin")).text
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;" in page

    async def test_posting_without_a_session_redirects_to_login(self, client: Client) -> None:
        response = await post_form(
            client, "/admin/tenants", {"slug": "acme", "name": "A"}, token_from="/admin/login"
        )
        assert response.headers["location"] == "/admin/login"
        assert await Tenant.count() == 0


class TestTenantPage:
    async def test_the_tenant_page_shows_its_state_and_events(self, owner: Client) -> None:
        await owner.post("/api/admin/tenants", json={"slug": "acme", "name": "Acme"})
        page = await owner.get("/admin/tenants/acme")
        assert page.status_code == 200
        assert "Acme" in page.text
        assert "provisioning" in page.text
        assert 'id="events"' in page.text
        assert "created" in page.text

    async def test_an_unknown_tenant_is_a_404_page(self, owner: Client) -> None:
        page = await owner.get("/admin/tenants/nope")
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
        assert "nope" in page.text
