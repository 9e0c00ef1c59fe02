"""Allowed hosts: the App answers only to the names it is reached by (DNS rebinding defence)."""

from __future__ import annotations

import pytest
from cial_app.auth.tables import User
from cial_app.settings import Settings
from cial_app.tenants.tables import Tenant

from testkit.owner import Owner

from .conftest import OWNER, Client, run_app, with_

EVIL = {"Host": "evil.example", "Origin": "http://evil.example", "Sec-Fetch-Site": "same-origin"}


class TestARequestForAnotherHost:
    async def test_cannot_sign_up_the_owner_even_with_a_matching_origin(self, client: Client) -> None:
        body = Owner.of(OWNER).sign_up_body
        response = await client.post("/api/auth/sign-up/email", json=body, headers=EVIL)
        assert response.status_code == 400
        assert response.json()["code"] == "unknown_host"
        assert "CIAL_ALLOWED_HOSTS" in response.json()["message"]
        assert await User.count() == 0

    async def test_cannot_create_a_tenant_with_the_owners_cookie(self, owner: Client) -> None:
        response = await owner.post("/api/admin/tenants", json={"slug": "acme", "name": "Acme"}, headers=EVIL)
        assert response.status_code == 400
        assert await Tenant.count() == 0

    async def test_gets_no_admin_page_either(self, client: Client) -> None:
        response = await client.get("/admin/signup", headers={"Host": "evil.example:3100"})
        assert response.status_code == 400
        assert "CIAL_ALLOWED_HOSTS" in response.text

    @pytest.mark.parametrize(
        "host", ["localhost.evil.example", "127.0.0.1.nip.io", "localhost:3100@evil", "localhost:", ""]
    )
    async def test_look_alikes_and_an_empty_host_are_refused(self, client: Client, host: str) -> None:
        assert (await client.get("/healthz", headers={"Host": host})).status_code == 400


class TestTheAllowedHosts:
    @pytest.mark.parametrize(
        "host", ["localhost", "localhost:3100", "LOCALHOST:8", "127.0.0.1:41234", "[::1]:3100"]
    )
    async def test_loopback_names_with_any_port_are_served(self, client: Client, host: str) -> None:
        assert (await client.get("/healthz", headers={"Host": host})).status_code == 200

    async def test_a_name_from_the_settings_is_served(self, settings: Settings) -> None:
        async with run_app(with_(settings, allowed_hosts=frozenset({"app-api"}))) as other:
            assert (await other.client.get("/healthz", headers={"Host": "app-api:3100"})).status_code == 200
            assert (await other.client.get("/healthz", headers={"Host": "localhost:3100"})).status_code == 400
