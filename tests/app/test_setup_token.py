"""The first sign-up of a fresh install: open to this machine (a loopback peer), from anywhere
else only with the setup token (`make local-up` generates it and prints the sign-up link)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from cial_app.auth.tables import User
from cial_app.settings import Settings

from testkit.owner import Owner, sign_up

from .conftest import BASE_URL, OWNER, SAME_ORIGIN, Running, form_token, run_app, with_

TOKEN = "setup-token-for-fast-tests-0123456789"
# In compose the App sees every client as Docker's bridge gateway.
GATEWAY = ("172.18.0.1", 51234)


@pytest.fixture
async def app_with_token(settings: Settings) -> AsyncIterator[Running]:
    async with run_app(with_(settings, setup_token=TOKEN)) as running:
        yield running


def from_elsewhere(running: Running) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=running.app, client=GATEWAY)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL, follow_redirects=False)


class TestFromAnotherMachine:
    async def test_without_the_token_sign_up_is_refused_saying_how_to_get_it(
        self, app_with_token: Running
    ) -> None:
        async with from_elsewhere(app_with_token) as client:
            response = await sign_up(client, Owner.of(OWNER))
        assert response.status_code == 403
        body = response.json()
        assert body["code"] == "setup_token_required"
        assert "make local-up" in body["message"] and "X-Cial-Setup-Token" in body["message"]
        assert await User.count() == 0

    async def test_a_wrong_token_is_refused(self, app_with_token: Running) -> None:
        async with from_elsewhere(app_with_token) as client:
            response = await sign_up(client, Owner.of(OWNER), TOKEN[:-1] + "x")
        assert response.status_code == 403
        assert response.json()["code"] == "setup_token_invalid"
        assert await User.count() == 0

    async def test_the_right_token_in_the_header_makes_the_owner(self, app_with_token: Running) -> None:
        async with from_elsewhere(app_with_token) as client:
            response = await sign_up(client, Owner.of(OWNER), TOKEN)
            assert response.status_code == 200, response.text
            assert response.json()["user"]["role"] == "owner"
            # Once the owner exists, the token opens nothing.
            again = await sign_up(client, Owner("Eve", "eve@example.com", "password123"), TOKEN)
        assert again.json()["code"] == "sign_up_closed"
        assert await User.count() == 1

    async def test_an_app_without_a_token_names_the_other_way(self, running: Running) -> None:
        async with from_elsewhere(running) as client:
            response = await sign_up(client, Owner.of(OWNER))
        assert response.status_code == 403
        assert "sign up from the machine it runs on" in response.json()["message"]


class TestFromThisMachine:
    async def test_a_loopback_client_needs_no_token(self, app_with_token: Running) -> None:
        assert (await sign_up(app_with_token.client, Owner.of(OWNER))).status_code == 200

    async def test_a_token_offered_from_loopback_must_be_right(self, app_with_token: Running) -> None:
        response = await sign_up(app_with_token.client, Owner.of(OWNER), "wrong")
        assert response.json()["code"] == "setup_token_invalid"


class TestTheSignUpPage:
    async def test_the_link_carries_the_token_into_the_form_and_the_form_signs_up(
        self, app_with_token: Running
    ) -> None:
        async with from_elsewhere(app_with_token) as client:
            page = await client.get(f"/admin/signup?setup={TOKEN}")
            assert page.headers["referrer-policy"] == "no-referrer"
            assert page.headers["cache-control"] == "no-store"
            assert f'name="setup_token" value="{TOKEN}"' in page.text
            assert 'type="hidden" name="setup_token"' in page.text
            fields = {**OWNER, "setup_token": TOKEN, "csrf_token": form_token(page)}
            response = await client.post("/admin/signup", data=fields, headers=SAME_ORIGIN)
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/admin"
        assert await User.count() == 1

    async def test_without_the_link_the_page_asks_for_the_token_and_explains_a_refusal(
        self, app_with_token: Running
    ) -> None:
        async with from_elsewhere(app_with_token) as client:
            page = await client.get("/admin/signup")
            assert 'id="setup_token"' in page.text
            fields = {**OWNER, "csrf_token": form_token(page)}
            response = await client.post("/admin/signup", data=fields, headers=SAME_ORIGIN)
        assert response.status_code == 403
        assert "needs the setup token" in response.text
        assert 'id="setup_token"' in response.text
        assert await User.count() == 0

    async def test_on_this_machine_the_page_does_not_ask_for_it(self, app_with_token: Running) -> None:
        page = await app_with_token.client.get("/admin/signup")
        assert 'name="setup_token"' not in page.text
