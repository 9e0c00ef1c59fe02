"""Per-tenant SSO keys: the contract's derivation, one key per tenant, and what a tenant is handed."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cial_app.sso.handover import sso_env
from cial_app.sso.keys import tenant_key

MASTER = "a-master-secret-of-at-least-32-bytes!"
ACME = "2f6f0a84-52f5-4a5c-9d0e-6d0f1c1f8a01"
GLOBEX = "7b1d3c55-0d8e-4c3e-8f39-1b2a3c4d5e6f"


class TestTenantKey:
    def test_it_is_the_contracts_hmac_of_the_tenant_id_under_the_master_secret(self) -> None:
        # docs/sso-contract.md, written out independently of the App's code.
        expected = hmac.new(MASTER.encode(), b"cial-sso-tenant-key/v1/" + ACME.encode(), hashlib.sha256)
        key = tenant_key(MASTER, ACME)
        assert key.secret == expected.digest()
        assert key.hex == expected.hexdigest()
        assert len(key.secret) == 32

    def test_its_id_names_the_key_and_its_version(self) -> None:
        key = tenant_key(MASTER, ACME)
        assert key.kid == "v1-" + hashlib.sha256(key.secret).hexdigest()[:16]
        assert len(key.kid) == 19

    def test_it_is_stable_and_different_for_every_tenant_and_every_master(self) -> None:
        assert tenant_key(MASTER, ACME) == tenant_key(MASTER, ACME)
        assert tenant_key(MASTER, ACME).secret != tenant_key(MASTER, GLOBEX).secret
        assert tenant_key(MASTER, ACME).kid != tenant_key(MASTER, GLOBEX).kid
        assert tenant_key(MASTER, ACME).secret != tenant_key(MASTER + "x", ACME).secret

    def test_its_repr_never_shows_the_key(self) -> None:
        key = tenant_key(MASTER, ACME)
        assert key.hex not in repr(key)
        assert repr(key.secret) not in repr(key)

    @pytest.mark.parametrize(("master", "tenant_id"), [("", ACME), (MASTER, "")])
    def test_an_empty_master_or_tenant_id_is_refused(self, master: str, tenant_id: str) -> None:
        with pytest.raises(ValueError, match=r"empty|tenant's id"):
            tenant_key(master, tenant_id)


class TestWhatATenantIsHanded:
    def test_its_own_key_and_id_the_issuer_and_the_way_back_to_the_admin(self) -> None:
        key = tenant_key(MASTER, ACME)
        assert sso_env(MASTER, ACME, "http://localhost:3100/admin") == {
            "CIAL_SSO_KEY": key.hex,
            "CIAL_SSO_KID": key.kid,
            "CIAL_SSO_ISSUER": "cial-app",
            "CIAL_ADMIN_URL": "http://localhost:3100/admin",
        }

    def test_never_the_master_secret(self) -> None:
        env = sso_env(MASTER, ACME, "http://localhost:3100/admin")
        assert not [name for name, value in env.items() if MASTER in value]

    def test_without_a_master_secret_no_key_so_core_refuses_sso_and_says_why(self) -> None:
        env = sso_env(None, ACME, "http://localhost:3100/admin")
        assert "CIAL_SSO_KEY" not in env and "CIAL_SSO_KID" not in env
        assert env["CIAL_ADMIN_URL"] == "http://localhost:3100/admin"
