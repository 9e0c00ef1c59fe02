"""L1: compose brings up Postgres and the App; the owner signs up; sign-up closes after that.

Runs against compose.yml from a clean state (real Postgres, the App's image) and a real
headless Chromium for the admin pages.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from spec.app_client import Owner, sign_up
from spec.containers import ComposeStack

pytestmark = pytest.mark.docker

OWNER = Owner(name="Ada Owner", email="ada@example.com")


@pytest.fixture(scope="module")
def clean_stack(stack: ComposeStack) -> ComposeStack:
    stack.fresh()
    return stack


class TestOwnerSignUpInTheBrowser:
    def test_signup_lands_on_admin_with_an_empty_tenant_list(
        self, clean_stack: ComposeStack, browser: Browser
    ) -> None:
        page = browser.new_page()
        page.goto(f"{clean_stack.app_url}/admin/signup")
        page.get_by_label("Name").fill(OWNER.name)
        page.get_by_label("Email").fill(OWNER.email)
        page.get_by_label("Password").fill(OWNER.password)
        page.get_by_role("button", name="Create account").click()

        page.wait_for_url(f"{clean_stack.app_url}/admin")
        expect(page.get_by_role("heading", name="Tenants")).to_be_visible()
        expect(page.locator("#no-tenants")).to_be_visible()
        assert page.locator("#tenants tbody tr").count() == 0
        page.close()

    def test_signup_page_sends_visitors_to_login_once_an_owner_exists(
        self, clean_stack: ComposeStack, browser: Browser
    ) -> None:
        page = browser.new_page()
        page.goto(f"{clean_stack.app_url}/admin/signup")
        page.wait_for_url(f"{clean_stack.app_url}/admin/login")
        page.close()

    def test_admin_without_a_session_redirects_to_login(self, clean_stack: ComposeStack) -> None:
        response = httpx.get(f"{clean_stack.app_url}/admin", follow_redirects=False)
        assert response.status_code in (302, 303)
        assert response.headers["location"].endswith("/admin/login")


class TestSignUpIsOwnerOnly:
    def test_a_second_signup_is_refused_with_a_clear_message(self, clean_stack: ComposeStack) -> None:
        response = sign_up(clean_stack.app_url, Owner(name="Mallory", email="mallory@example.com"))
        assert response.status_code == 403
        assert "sign-up" in response.text.lower() or "sign up" in response.text.lower()

    def test_the_owner_signs_in_and_the_session_is_served(self, clean_stack: ComposeStack) -> None:
        with httpx.Client(base_url=clean_stack.app_url, timeout=30) as client:
            signed = client.post(
                "/api/auth/sign-in/email", json={"email": OWNER.email, "password": OWNER.password}
            )
            assert signed.status_code == 200
            session = client.get("/api/auth/get-session").json()
            assert session["user"]["email"] == OWNER.email

    def test_wrong_email_and_wrong_password_get_the_same_answer(self, clean_stack: ComposeStack) -> None:
        url = f"{clean_stack.app_url}/api/auth/sign-in/email"
        wrong_password = httpx.post(url, json={"email": OWNER.email, "password": "not-it-at-all"}, timeout=30)
        wrong_email = httpx.post(url, json={"email": "nobody@example.com", "password": "not-it"}, timeout=30)
        assert wrong_password.status_code == wrong_email.status_code == 401
        assert wrong_password.json() == wrong_email.json()


class TestSessionsOutliveTheApp:
    def test_session_still_works_after_app_api_restarts(self, clean_stack: ComposeStack) -> None:
        client = httpx.Client(base_url=clean_stack.app_url, timeout=30)
        client.post("/api/auth/sign-in/email", json={"email": OWNER.email, "password": OWNER.password})
        assert client.get("/api/auth/get-session").json()["user"]["email"] == OWNER.email

        clean_stack.restart("app-api")

        session = client.get("/api/auth/get-session")
        assert session.status_code == 200
        assert session.json()["user"]["email"] == OWNER.email
        client.close()

    def test_a_second_boot_applies_no_migration_and_keeps_the_owner(self, clean_stack: ComposeStack) -> None:
        clean_stack.restart("app-api")
        # The owner from the first boot is still the only account: sign-up stays closed.
        assert sign_up(clean_stack.app_url, Owner(name="Eve", email="eve@example.com")).status_code == 403
        assert "no migrations" in clean_stack.logs("app-api").lower()


class TestSignUpRace:
    def test_ten_concurrent_signups_on_a_fresh_database_make_exactly_one_owner(
        self, clean_stack: ComposeStack
    ) -> None:
        clean_stack.fresh()
        racers = [Owner(name=f"Racer {n}", email=f"racer{n}@example.com") for n in range(10)]
        with ThreadPoolExecutor(max_workers=10) as pool:
            responses = list(pool.map(lambda owner: sign_up(clean_stack.app_url, owner), racers))

        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] + [403] * 9, statuses
        winner = racers[[r.status_code for r in responses].index(200)]
        for racer in racers:
            signed: Any = httpx.post(
                f"{clean_stack.app_url}/api/auth/sign-in/email",
                json={"email": racer.email, "password": racer.password},
                timeout=30,
            )
            assert signed.status_code == (200 if racer == winner else 401)
