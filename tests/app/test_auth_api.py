"""Owner sign-up, sign-in, sign-out and sessions through the JSON API (better-auth's shapes)."""

from __future__ import annotations

import asyncio
from http.cookies import SimpleCookie

import pytest
from cial_app.api.app import create_app
from cial_app.auth.tables import User
from cial_app.db import is_unique_violation
from cial_app.settings import Settings
from litestar.testing import AsyncTestClient

from .conftest import BASE_URL, OWNER, Client, run_app, sign_in, with_


def set_cookie_attributes(header: str) -> dict[str, str]:
    parsed = SimpleCookie()
    parsed.load(header)
    morsel = parsed["cial_session"]
    return {key: str(value) for key, value in morsel.items() if value} | {"value": morsel.value}


class TestSignUp:
    async def test_first_sign_up_creates_the_owner_and_signs_them_in(self, client: Client) -> None:
        response = await client.post("/api/auth/sign-up/email", json=OWNER)
        assert response.status_code == 200
        body = response.json()
        assert body["user"]["email"] == OWNER["email"]
        assert body["user"]["name"] == OWNER["name"]
        assert body["user"]["role"] == "owner"
        assert "password" not in response.text and "hash" not in response.text
        session = (await client.get("/api/auth/get-session")).json()
        assert session["user"]["id"] == body["user"]["id"]

    async def test_email_is_stored_trimmed_and_lowercase(self, client: Client) -> None:
        response = await client.post(
            "/api/auth/sign-up/email", json={**OWNER, "email": "  Owner@Example.COM "}
        )
        assert response.json()["user"]["email"] == "owner@example.com"

    async def test_second_sign_up_is_refused_with_403_and_a_clear_message(self, owner: Client) -> None:
        response = await owner.post(
            "/api/auth/sign-up/email",
            json={"name": "Mallory", "email": "m@example.com", "password": "password123"},
        )
        assert response.status_code == 403
        assert response.json()["code"] == "sign_up_closed"
        assert "closed" in response.json()["message"].lower()
        assert await User.count() == 1

    async def test_ten_racing_sign_ups_give_exactly_one_owner(self, client: Client) -> None:
        attempts = [
            client.post(
                "/api/auth/sign-up/email",
                json={"name": f"User {i}", "email": f"user{i}@example.com", "password": "password123"},
            )
            for i in range(10)
        ]
        responses = await asyncio.gather(*attempts)
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] + [403] * 9
        assert await User.count() == 1

    async def test_the_database_itself_refuses_a_second_owner(self, owner: Client) -> None:
        # The guarantee must not depend on the check in Python: insert behind the service's back.
        existing = await User.objects().first()
        assert existing is not None
        intruder = User(
            email="second@example.com",
            name="Second",
            password_hash="x",
            owner_slot=1,
            created_at=existing.created_at,
            updated_at=existing.created_at,
        )
        with pytest.raises(Exception) as refused:
            await User.insert(intruder)
        assert is_unique_violation(refused.value)

    @pytest.mark.parametrize(
        ("change", "field", "words"),
        [
            ({"name": ""}, "name", "required"),
            ({"name": "   "}, "name", "required"),
            ({"name": "x" * 101}, "name", "at most 100"),
            ({"name": "bad\x00name"}, "name", "control"),
            ({"email": ""}, "email", "required"),
            ({"email": "not-an-address"}, "email", "address"),
            ({"email": "a@b\x00c"}, "email", "address"),
            ({"password": "short"}, "password", "at least 8"),
            ({"password": "x" * 129}, "password", "at most 128"),
        ],
    )
    async def test_bad_input_is_refused_with_400_naming_the_field(
        self, client: Client, change: dict[str, str], field: str, words: str
    ) -> None:
        response = await client.post("/api/auth/sign-up/email", json={**OWNER, **change})
        assert response.status_code == 400
        assert response.json()["field"] == field
        assert words in response.json()["message"].lower()
        assert await User.count() == 0

    @pytest.mark.parametrize(
        "body",
        [{"name": "A", "email": "a@b.c"}, {"name": 1, "email": "a@b.c", "password": "password123"}, [], "x"],
    )
    async def test_missing_fields_and_wrong_types_get_400(self, client: Client, body: object) -> None:
        response = await client.post("/api/auth/sign-up/email", json=body)
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_request"


class TestSignIn:
    async def test_owner_signs_in_with_the_right_password(self, owner: Client) -> None:
        await owner.post("/api/auth/sign-out")
        response = await sign_in(owner, OWNER["email"].upper(), OWNER["password"])
        assert response.status_code == 200
        assert response.json()["user"]["email"] == OWNER["email"]
        assert (await owner.get("/api/auth/get-session")).json()["user"]["email"] == OWNER["email"]

    async def test_wrong_email_and_wrong_password_get_the_same_answer(self, owner: Client) -> None:
        await owner.post("/api/auth/sign-out")
        wrong_password = await sign_in(owner, OWNER["email"], "not the password")
        wrong_email = await sign_in(owner, "nobody@example.com", OWNER["password"])
        assert wrong_password.status_code == wrong_email.status_code == 401
        assert wrong_password.json() == wrong_email.json()
        assert "set-cookie" not in wrong_password.headers

    async def test_empty_credentials_get_400(self, owner: Client) -> None:
        response = await sign_in(owner, "", "")
        assert response.status_code == 400
        assert response.json()["field"] == "email"


class TestSignInThrottle:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return with_(settings, signin_max_failures=3, signin_backoff_first_seconds=60)

    async def test_repeated_failures_are_answered_429_with_retry_after(self, owner: Client) -> None:
        for _ in range(3):
            assert (await sign_in(owner, OWNER["email"], "wrong password")).status_code == 401
        response = await sign_in(owner, OWNER["email"], "wrong password")
        assert response.status_code == 429
        retry_after = int(response.headers["retry-after"])
        assert 1 <= retry_after <= 60
        assert response.json()["code"] == "too_many_attempts"

    async def test_while_throttled_even_the_right_password_waits(self, owner: Client) -> None:
        for _ in range(3):
            await sign_in(owner, OWNER["email"], "wrong password")
        assert (await sign_in(owner, OWNER["email"], OWNER["password"])).status_code == 429

    async def test_unknown_emails_are_throttled_like_known_ones(self, owner: Client) -> None:
        for _ in range(3):
            assert (await sign_in(owner, "ghost@example.com", "whatever1")).status_code == 401
        assert (await sign_in(owner, "ghost@example.com", "whatever1")).status_code == 429

    async def test_a_success_clears_the_count_for_that_email(self, owner: Client) -> None:
        for _ in range(2):
            await sign_in(owner, OWNER["email"], "wrong password")
        assert (await sign_in(owner, OWNER["email"], OWNER["password"])).status_code == 200
        for _ in range(2):
            assert (await sign_in(owner, OWNER["email"], "wrong password")).status_code == 401

    async def test_one_client_spraying_many_emails_is_throttled(self, settings: Settings) -> None:
        app = create_app(with_(settings, signin_max_failures_per_client=4))
        async with AsyncTestClient(app=app, base_url=BASE_URL) as client:
            statuses = [
                (await sign_in(client, f"u{i}@example.com", "password123")).status_code for i in range(5)
            ]
        assert statuses == [401, 401, 401, 401, 429]


class TestSessionCookie:
    async def test_cookie_is_httponly_samesite_lax_path_root_with_an_expiry(
        self, client: Client, settings: Settings
    ) -> None:
        response = await client.post("/api/auth/sign-up/email", json=OWNER)
        attributes = set_cookie_attributes(response.headers["set-cookie"])
        assert attributes["httponly"] == "True"
        assert attributes["samesite"].lower() == "lax"
        assert attributes["path"] == "/"
        assert int(attributes["max-age"]) == pytest.approx(settings.session_ttl_seconds, abs=2)
        assert "expires" in attributes
        assert "secure" not in attributes
        assert "domain" not in attributes
        assert len(attributes["value"]) >= 40

    async def test_cookie_is_secure_when_configured(self, settings: Settings) -> None:
        # Litestar's test client is no loopback peer: the first sign-up needs the setup token.
        token = "setup-token-of-this-test-0123"
        async with AsyncTestClient(
            app=create_app(with_(settings, cookie_secure=True, setup_token=token)), base_url=BASE_URL
        ) as c:
            headers = {"X-Cial-Setup-Token": token}
            response = await c.post("/api/auth/sign-up/email", json=OWNER, headers=headers)
        assert set_cookie_attributes(response.headers["set-cookie"])["secure"] == "True"

    async def test_the_database_keeps_only_a_hash_of_the_token(self, client: Client) -> None:
        from cial_app.auth.tables import Session

        response = await client.post("/api/auth/sign-up/email", json=OWNER)
        token = set_cookie_attributes(response.headers["set-cookie"])["value"]
        rows = await Session.select(Session.token_hash)
        assert len(rows) == 1
        assert token not in rows[0]["token_hash"]


class TestSessionLifetime:
    async def test_get_session_is_null_without_a_session(self, client: Client) -> None:
        response = await client.get("/api/auth/get-session")
        assert response.status_code == 200
        assert response.json() is None

    async def test_sign_out_ends_the_session_on_the_server(self, owner: Client) -> None:
        token = owner.cookies["cial_session"]
        response = await owner.post("/api/auth/sign-out")
        assert response.status_code == 200
        assert response.json() == {"success": True}
        assert (await owner.get("/api/auth/get-session")).json() is None
        # The old token is dead even if a client kept it.
        owner.cookies.set("cial_session", token)
        assert (await owner.get("/api/auth/get-session")).json() is None

    async def test_an_expired_session_is_not_honoured(self, settings: Settings) -> None:
        from cial_app.auth.tables import Session
        from cial_app.db import utcnow

        async with run_app(settings) as running:
            client = running.client
            await client.post("/api/auth/sign-up/email", json=OWNER)
            await Session.update({Session.expires_at: utcnow()}, force=True)
            assert (await client.get("/api/auth/get-session")).json() is None
            assert (await client.get("/api/admin/tenants")).status_code == 401

    async def test_a_session_survives_an_app_restart_on_the_same_database(self, settings: Settings) -> None:
        async with run_app(settings) as running:
            await running.client.post("/api/auth/sign-up/email", json=OWNER)
            token = running.client.cookies["cial_session"]
        async with run_app(settings) as running:
            second = running.client
            second.cookies.set("cial_session", token)
            session = (await second.get("/api/auth/get-session")).json()
            assert session["user"]["email"] == OWNER["email"]
            assert (await second.get("/api/admin/tenants")).status_code == 200
