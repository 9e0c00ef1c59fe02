"""L5, the App's half of SSO: each tenant's machine is handed its own key at create (never the
master secret), and "Open" (GET /api/admin/tenants/{slug}/open) sends the owner's browser to the
tenant with a one-minute token for that tenant alone (docs/sso-contract.md)."""

from __future__ import annotations

import hashlib
import hmac

from cial_app.settings import Settings

from testkit.owner import Owner, sign_up, tenant

from .conftest import OWNER, SSO_SECRET, Client, Running, run_app, with_
from .test_lifecycle import running_tenant


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
