"""L1: compose brings up Postgres and the App; the owner signs up; sign-up closes after that.

Runs against compose.yml (real Postgres, the App's image) and a real headless Chromium for the
admin pages. Each test sets up the state it asserts on (`empty_stack`: no account yet;
`owned_stack`: OWNER is the owner), so they pass alone and in any order.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from playwright.sync_api import Browser, expect

from spec.containers import ComposeStack
from testkit.owner import Owner, sign_in, sign_up

pytestmark = pytest.mark.docker

OWNER = Owner(name="Ada Owner", email="ada@example.com")


def signs_up(stack: ComposeStack, owner: Owner) -> httpx.Response:
    """A sign-up as its rightful owner makes it: with the stack's setup token."""
    with httpx.Client(base_url=stack.app_url, timeout=30) as client:
        return sign_up(client, owner, stack.setup_token)


def signs_in(stack: ComposeStack, owner: Owner) -> httpx.Response:
    with httpx.Client(base_url=stack.app_url, timeout=30) as client:
        return sign_in(client, owner.email, owner.password)


@pytest.fixture
def empty_stack(stack: ComposeStack) -> ComposeStack:
    """The stack on an empty database: nobody has signed up."""
    stack.fresh()
    return stack


@pytest.fixture
def owned_stack(stack: ComposeStack) -> ComposeStack:
    """The stack whose one account is OWNER's (a fresh database only if someone else owns it)."""
    if signs_in(stack, OWNER).status_code != 200 and signs_up(stack, OWNER).status_code != 200:
        stack.fresh()
        assert signs_up(stack, OWNER).status_code == 200
    return stack


class TestOwnerSignUpInTheBrowser:
    def test_signup_lands_on_admin_with_an_empty_tenant_list(
        self, empty_stack: ComposeStack, browser: Browser
    ) -> None:
        clean_stack = empty_stack
        page = browser.new_page()
        # The link `make local-up` prints: the App sees the browser as Docker's gateway.
        page.goto(f"{clean_stack.app_url}/admin/signup?setup={clean_stack.setup_token}")
        expect(page.get_by_label("Setup token")).to_have_count(0)
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
        self, owned_stack: ComposeStack, browser: Browser
    ) -> None:
        clean_stack = owned_stack
        page = browser.new_page()
        page.goto(f"{clean_stack.app_url}/admin/signup")
        page.wait_for_url(f"{clean_stack.app_url}/admin/login")
        page.close()

    def test_admin_without_a_session_redirects_to_login(self, stack: ComposeStack) -> None:
        response = httpx.get(f"{stack.app_url}/admin", follow_redirects=False)
        assert response.status_code in (302, 303)
        assert response.headers["location"].endswith("/admin/login")


class TestTheFirstSignUpNeedsTheSetupToken:
    """An attacker who reaches a fresh install's port (anyone but the host's own loopback: in
    compose, every client) cannot claim the owner slot without the token of `make local-up`."""

    def test_no_token_or_a_wrong_one_is_refused_and_the_right_one_makes_the_owner(
        self, empty_stack: ComposeStack
    ) -> None:
        clean_stack = empty_stack
        mallory = Owner(name="Mallory", email="mallory@example.com")
        with httpx.Client(base_url=clean_stack.app_url, timeout=30) as client:
            without = sign_up(client, mallory)
            assert without.status_code == 403, without.text
            assert without.json()["code"] == "setup_token_required"
            assert "setup token" in without.json()["message"]
            assert "make local-up" in without.json()["message"]

            wrong = sign_up(client, mallory, "0" * 64)
            assert wrong.status_code == 403, wrong.text
            assert wrong.json()["code"] == "setup_token_invalid"

            # A rebinding page: its own name in Host and Origin, as a browser would send them.
            evil = {"Host": "evil.example", "Origin": "http://evil.example"}
            rebound = client.post(
                "/api/auth/sign-up/email", json=mallory.sign_up_body,
                headers={**evil, "X-Cial-Setup-Token": clean_stack.setup_token},
            )  # fmt: skip
            assert rebound.status_code == 400, rebound.text

            assert sign_in(client, mallory.email, mallory.password).status_code == 401
            assert sign_up(client, OWNER, clean_stack.setup_token).status_code == 200
        assert signs_in(clean_stack, OWNER).status_code == 200
        # ... and once the owner exists the token opens nothing.
        assert signs_up(clean_stack, mallory).json()["code"] == "sign_up_closed"

    def test_the_sign_up_page_without_the_link_asks_for_the_token(
        self, empty_stack: ComposeStack, browser: Browser
    ) -> None:
        clean_stack = empty_stack
        page = browser.new_page()
        page.goto(f"{clean_stack.app_url}/admin/signup")
        page.get_by_label("Name").fill(OWNER.name)
        page.get_by_label("Email").fill(OWNER.email)
        page.get_by_label("Password").fill(OWNER.password)
        page.get_by_label("Setup token").fill("not-the-token")
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_text("The setup token is wrong.")).to_be_visible()

        page.get_by_label("Password").fill(OWNER.password)
        page.get_by_label("Setup token").fill(clean_stack.setup_token)
        page.get_by_role("button", name="Create account").click()
        page.wait_for_url(f"{clean_stack.app_url}/admin")
        page.close()


class TestSignUpIsOwnerOnly:
    def test_a_second_signup_is_refused_with_a_clear_message(self, owned_stack: ComposeStack) -> None:
        response = signs_up(owned_stack, Owner(name="Mallory", email="mallory@example.com"))
        assert response.status_code == 403
        assert "sign-up" in response.text.lower() or "sign up" in response.text.lower()

    def test_the_owner_signs_in_and_the_session_is_served(self, owned_stack: ComposeStack) -> None:
        with httpx.Client(base_url=owned_stack.app_url, timeout=30) as client:
            assert sign_in(client, OWNER.email, OWNER.password).status_code == 200
            session = client.get("/api/auth/get-session").json()
            assert session["user"]["email"] == OWNER.email

    def test_wrong_email_and_wrong_password_get_the_same_answer(self, owned_stack: ComposeStack) -> None:
        wrong_password = signs_in(owned_stack, Owner(OWNER.name, OWNER.email, "not-it-at-all"))
        wrong_email = signs_in(owned_stack, Owner("Nobody", "nobody@example.com", "not-it"))
        assert wrong_password.status_code == wrong_email.status_code == 401
        assert wrong_password.json() == wrong_email.json()


class TestSessionsOutliveTheApp:
    def test_session_still_works_after_app_api_restarts(self, owned_stack: ComposeStack) -> None:
        with httpx.Client(base_url=owned_stack.app_url, timeout=30) as client:
            sign_in(client, OWNER.email, OWNER.password)
            assert client.get("/api/auth/get-session").json()["user"]["email"] == OWNER.email
            cookies = client.cookies

        owned_stack.restart("app-api")

        # Docker gave the restarted App a new port: the same cookie, sent to the new address.
        with httpx.Client(base_url=owned_stack.app_url, cookies=cookies, timeout=30) as client:
            session = client.get("/api/auth/get-session")
        assert session.status_code == 200
        assert session.json()["user"]["email"] == OWNER.email

    def test_a_second_boot_applies_no_migration_and_keeps_the_owner(self, owned_stack: ComposeStack) -> None:
        earlier = len(owned_stack.logs("app-api"))
        owned_stack.restart("app-api")
        # The owner from the first boot is still the only account: sign-up stays closed.
        assert signs_up(owned_stack, Owner(name="Eve", email="eve@example.com")).status_code == 403
        # Only this boot's lines: the container's log holds every earlier boot's too.
        this_boot = owned_stack.logs("app-api")[earlier:]
        assert "no migrations" in this_boot.lower(), this_boot[-3000:]


class TestSignUpRace:
    def test_ten_concurrent_signups_on_a_fresh_database_make_exactly_one_owner(
        self, empty_stack: ComposeStack
    ) -> None:
        clean_stack = empty_stack
        racers = [Owner(name=f"Racer {n}", email=f"racer{n}@example.com") for n in range(10)]
        with ThreadPoolExecutor(max_workers=10) as pool:
            responses = list(pool.map(lambda owner: signs_up(clean_stack, owner), racers))

        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] + [403] * 9, statuses
        winner = racers[[r.status_code for r in responses].index(200)]
        for racer in racers:
            assert signs_in(clean_stack, racer).status_code == (200 if racer == winner else 401)
