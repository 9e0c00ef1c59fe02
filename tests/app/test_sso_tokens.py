"""The token "Open" mints: the contract's header and claims, a minute long, for one tenant only."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from cial_app.sso import rules
from cial_app.sso.keys import tenant_key
from cial_app.sso.tokens import mint
from cial_app.tenants.states import TenantState

MASTER = "a-master-secret-of-at-least-32-bytes!"
ACME = "2f6f0a84-52f5-4a5c-9d0e-6d0f1c1f8a01"
GLOBEX = "7b1d3c55-0d8e-4c3e-8f39-1b2a3c4d5e6f"
USER = "0b6c1e1e-3f0a-4a8c-a1b4-5c6d7e8f9a0b"


def acme_token(**overrides: Any) -> str:
    fields: dict[str, Any] = {"tenant_id": ACME, "slug": "acme", "user_id": USER, "email": "o@example.com"}
    return mint(tenant_key(MASTER, ACME), **{**fields, **overrides})


def verify(token: str, tenant_id: str = ACME, **options: Any) -> dict[str, Any]:
    """What Core does (docs/sso-contract.md), minus the jti store."""
    key = tenant_key(MASTER, tenant_id)
    claims: dict[str, Any] = jwt.decode(
        token,
        key.secret,
        algorithms=["HS256"],
        audience=tenant_id,
        issuer="cial-app",
        leeway=5,
        options={"require": ["iss", "aud", "tenant", "sub", "email", "role", "iat", "exp", "jti"]},
        **options,
    )
    return claims


class TestTheToken:
    def test_its_header_is_exactly_the_contracts(self) -> None:
        header = jwt.get_unverified_header(acme_token())
        assert header == {"alg": "HS256", "typ": "cial-sso+jwt", "kid": tenant_key(MASTER, ACME).kid}

    def test_its_claims_are_the_contracts_and_it_lives_one_minute(self) -> None:
        claims = verify(acme_token(now=int(time.time()), jti="a" * 32))
        assert {k: claims[k] for k in ("iss", "aud", "tenant", "sub", "email", "role", "jti")} == {
            "iss": "cial-app",
            "aud": ACME,
            "tenant": "acme",
            "sub": USER,
            "email": "o@example.com",
            "role": "owner",
            "jti": "a" * 32,
        }
        assert claims["exp"] - claims["iat"] == 60
        assert set(claims) == {"iss", "aud", "tenant", "sub", "email", "role", "iat", "exp", "jti"}

    def test_it_is_issued_now_and_every_token_has_its_own_32_hex_id(self) -> None:
        before = int(time.time())
        first, second = verify(acme_token()), verify(acme_token())
        assert before <= first["iat"] <= int(time.time())
        assert first["jti"] != second["jti"]
        for claims in (first, second):
            assert len(claims["jti"]) == 32 and int(claims["jti"], 16) >= 0

    def test_it_does_not_verify_with_another_tenants_key(self) -> None:
        globex_key = tenant_key(MASTER, GLOBEX).secret
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(acme_token(), globex_key, algorithms=["HS256"], audience=ACME, issuer="cial-app")

    def test_it_names_its_own_tenant_as_audience_and_no_other(self) -> None:
        with pytest.raises(jwt.InvalidAudienceError):
            jwt.decode(
                acme_token(),
                tenant_key(MASTER, ACME).secret,
                algorithms=["HS256"],
                audience=GLOBEX,
                issuer="cial-app",
            )

    def test_a_minute_later_it_has_expired(self) -> None:
        token = acme_token(now=int(time.time()) - 66)
        with pytest.raises(jwt.ExpiredSignatureError):
            verify(token)


class TestWhichStatesOpen:
    def test_running_and_idle_ones(self) -> None:
        # An idle tenant is woken by the request the token rides on (the router holds it).
        assert {s for s in TenantState if rules.why_not(s) is None} == {
            TenantState.RUNNING,
            TenantState.IDLE,
            TenantState.IDLING,
        }

    @pytest.mark.parametrize("state", [s for s in TenantState if rules.why_not(s) is not None])
    def test_every_other_state_is_a_409_naming_the_state_and_that_it_must_be_running(
        self, state: TenantState
    ) -> None:
        with pytest.raises(rules.NotRunning) as refused:
            rules.check_can_open(state, "acme")
        assert refused.value.status == 409
        assert refused.value.code == "state_forbids"
        assert refused.value.message.startswith("Cannot open tenant 'acme': it ")
        assert "running" in refused.value.message

    def test_a_stopped_tenant_is_told_to_start_and_wait(self) -> None:
        with pytest.raises(rules.NotRunning, match="it is stopped; start it and wait until it is running"):
            rules.check_can_open(TenantState.STOPPED, "acme")
