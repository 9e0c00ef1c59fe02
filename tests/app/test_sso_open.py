"""L5, the App's half of SSO: each tenant's machine is handed its own key at create (never the
master secret), and "Open" (GET /api/admin/tenants/{slug}/open) sends the owner's browser to the
tenant with a one-minute token for that tenant alone (docs/sso-contract.md)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cial_app.auth.service import Account
from cial_app.errors import Forbidden
from cial_app.settings import Settings

from testkit.owner import Owner, act, create, sign_up, tenant

from .conftest import OWNER, SSO_SECRET, Client, Running, run_app, running_tenant, with_


def contract_key(tenant_id: str) -> tuple[bytes, str]:
    """docs/sso-contract.md's derivation, written out here rather than taken from the App."""
    key = hmac.new(SSO_SECRET.encode(), b"cial-sso-tenant-key/v1/" + tenant_id.encode(), hashlib.sha256)
    return key.digest(), "v1-" + hashlib.sha256(key.digest()).hexdigest()[:16]


class TestTheMachineIsHandedItsKey:
    async def test_a_created_machine_holds_its_derived_key_and_never_the_master_secret(
        self, running: Running, owner: Client
    ) -> None:
        body = await running_tenant(running, owner)
        env = running.engine.specs["acme"].all_env
        key, kid = contract_key(body["id"])
        assert env["CIAL_SSO_KEY"] == key.hex()
        assert env["CIAL_SSO_KID"] == kid
        assert env["CIAL_SSO_ISSUER"] == "cial-app"
        assert env["CIAL_ADMIN_URL"] == running.services.settings.admin_url
        assert (env["TENANT_ID"], env["TENANT_SLUG"]) == (body["id"], "acme")
        assert not [name for name, value in env.items() if SSO_SECRET in value]

    async def test_two_tenants_get_two_keys(self, running: Running, owner: Client) -> None:
        await running_tenant(running, owner, "acme")
        await running_tenant(running, owner, "globex")
        keys = {slug: running.engine.specs[slug].all_env["CIAL_SSO_KEY"] for slug in ("acme", "globex")}
        assert keys["acme"] != keys["globex"]

    async def test_the_admin_url_is_the_one_in_the_settings(self, settings: Settings) -> None:
        async with run_app(with_(settings, admin_url="http://admin.example:3300/admin")) as app:
            await sign_up(app.client, Owner.of(OWNER))
            await running_tenant(app, app.client)
            assert app.engine.specs["acme"].all_env["CIAL_ADMIN_URL"] == "http://admin.example:3300/admin"

    async def test_without_a_master_secret_tenants_are_still_created_but_get_no_key(
        self, settings: Settings
    ) -> None:
        async with run_app(with_(settings, sso_secret=None)) as app:
            await sign_up(app.client, Owner.of(OWNER))
            await running_tenant(app, app.client)
            assert (await tenant(app.client, "acme"))["state"] == "running"
            env = app.engine.specs["acme"].all_env
            assert "CIAL_SSO_KEY" not in env and "CIAL_SSO_KID" not in env


def token_of(response: httpx.Response) -> str:
    [token] = parse_qs(urlsplit(response.headers["location"]).query)["token"]
    return token


class TestOpen:
    async def test_a_running_tenant_opens_with_a_303_to_its_sso_url_and_no_caching_or_referrer(
        self, running: Running, owner: Client
    ) -> None:
        await running_tenant(running, owner)
        response = await owner.get("/api/admin/tenants/acme/open")
        assert response.status_code == 303, response.text
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        location = urlsplit(response.headers["location"])
        where = (location.scheme, location.netloc, location.path)
        assert where == ("http", "acme.localhost:8080", "/.cial/sso")
        assert list(parse_qs(location.query)) == ["token"]
        assert response.content == b""

    async def test_the_token_is_the_contracts_for_that_tenant_and_its_owner(
        self, running: Running, owner: Client
    ) -> None:
        body = await running_tenant(running, owner)
        user = (await owner.get("/api/auth/get-session")).json()["user"]
        token = token_of(await owner.get("/api/admin/tenants/acme/open"))
        key, kid = contract_key(body["id"])
        assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "cial-sso+jwt", "kid": kid}
        claims = jwt.decode(token, key, algorithms=["HS256"], audience=body["id"], issuer="cial-app")
        assert (claims["tenant"], claims["sub"], claims["email"], claims["role"]) == (
            "acme",
            user["id"],
            OWNER["email"],
            "owner",
        )
        assert claims["exp"] - claims["iat"] == 60
        assert len(claims["jti"]) == 32

    async def test_each_open_mints_a_new_token(self, running: Running, owner: Client) -> None:
        await running_tenant(running, owner)
        first = token_of(await owner.get("/api/admin/tenants/acme/open"))
        second = token_of(await owner.get("/api/admin/tenants/acme/open"))
        assert first != second

    async def test_a_token_for_one_tenant_does_not_verify_with_anothers_key(
        self, running: Running, owner: Client
    ) -> None:
        acme = await running_tenant(running, owner, "acme")
        globex = await running_tenant(running, owner, "globex")
        token = token_of(await owner.get("/api/admin/tenants/acme/open"))
        globex_key, _ = contract_key(globex["id"])
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(token, globex_key, algorithms=["HS256"], audience=acme["id"], issuer="cial-app")

    async def test_the_tenant_url_follows_the_settings_template(self, settings: Settings) -> None:
        async with run_app(with_(settings, tenant_url_template="http://{slug}.localhost:18080")) as app:
            await sign_up(app.client, Owner.of(OWNER))
            await running_tenant(app, app.client)
            response = await app.client.get("/api/admin/tenants/acme/open")
            assert response.headers["location"].startswith("http://acme.localhost:18080/.cial/sso?token=")


class TestOpenIsRefused:
    async def test_a_stopped_tenant_is_a_409_saying_it_must_be_running(
        self, running: Running, owner: Client
    ) -> None:
        await running_tenant(running, owner)
        await act(owner, "acme", "stop")
        await running.settle()
        response = await owner.get("/api/admin/tenants/acme/open")
        assert response.status_code == 409
        assert response.json() == {
            "status": 409,
            "code": "state_forbids",
            "message": "Cannot open tenant 'acme': it is stopped; start it and wait until it is running.",
            "field": None,
        }
        assert "location" not in response.headers

    async def test_a_tenant_still_coming_up_is_a_409_too(self, running: Running, owner: Client) -> None:
        gate = running.engine.hold("create")
        await create(owner, "acme")
        response = await owner.get("/api/admin/tenants/acme/open")
        assert response.status_code == 409
        assert "is still being provisioned; wait until it is running" in response.json()["message"]
        gate.open()
        await running.settle()

    async def test_an_unknown_tenant_is_a_404(self, owner: Client) -> None:
        response = await owner.get("/api/admin/tenants/nobody/open")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"

    async def test_no_session_is_a_401_for_an_api_client(self, running: Running, owner: Client) -> None:
        await running_tenant(running, owner)
        owner.cookies.clear()
        response = await owner.get("/api/admin/tenants/acme/open", headers={"Accept": "application/json"})
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        assert "location" not in response.headers

    async def test_no_session_sends_a_browser_to_sign_in(self, running: Running, owner: Client) -> None:
        await running_tenant(running, owner)
        owner.cookies.clear()
        response = await owner.get(
            "/api/admin/tenants/acme/open",
            headers={"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/login"

    async def test_only_the_tenants_own_owner_may_open_it(self, running: Running, owner: Client) -> None:
        # One owner per App: a tenant owned by anyone else can only come from a bug or a hand edit.
        await running_tenant(running, owner)
        record = await running.services.tenants.get("acme")
        session = (await owner.get("/api/auth/get-session")).json()
        stranger = Account(
            id=uuid.uuid4(),
            email="x@example.com",
            name="X",
            is_owner=True,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )
        with pytest.raises(Forbidden, match="Only the owner of tenant 'acme' may open it"):
            await running.services.sso.open_url("acme", stranger)
        assert session["user"]["id"] == str(record.owner_id)

    async def test_an_app_without_the_master_secret_says_sso_is_not_configured(
        self, settings: Settings
    ) -> None:
        async with run_app(with_(settings, sso_secret=None)) as app:
            await sign_up(app.client, Owner.of(OWNER))
            await running_tenant(app, app.client)
            response = await app.client.get("/api/admin/tenants/acme/open")
            assert response.status_code == 503
            assert response.json()["code"] == "sso_not_configured"
            assert "CIAL_SSO_SECRET" in response.json()["message"]


class TestNothingLeaks:
    async def test_no_log_line_holds_the_token_or_the_master_secret(
        self, running: Running, owner: Client, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        await running_tenant(running, owner)
        token = token_of(await owner.get("/api/admin/tenants/acme/open"))
        env = running.engine.specs["acme"].all_env
        for secret in (token, token.split(".")[2], SSO_SECRET, env["CIAL_SSO_KEY"]):
            assert secret not in caplog.text
        assert "token=" not in caplog.text
