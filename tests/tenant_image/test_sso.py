"""Core's side of the SSO handoff, in-process: the token rules, single use on the volume, and the
/sso and /sign-out routes with their exact headers."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cial_core.back.app import create_app
from cial_core.back.signin import SESSION_COOKIE
from cial_core.back.sso import Grant, Refused, SsoSettings, TokenVerifier
from cial_core.sessions import Identity, SessionReader, SignInStore, TokenAlreadyUsed
from litestar.testing import TestClient

from testkit import forged_tokens
from testkit.forged_tokens import tampered

TENANT_ID = "6f1c3d2e-8a4b-4c5d-9e6f-0123456789ab"
OTHER_ID = "0a0b0c0d-1111-4222-8333-444455556666"
SLUG = "acme"
EMAIL = "owner@example.com"
ADMIN_URL = "http://admin.example:3100/admin"


def key_for(tenant_id: str, master: str = "master-secret-of-the-app-for-tests") -> tuple[bytes, str]:
    """docs/sso-contract.md's derivation, written out: (key, kid)."""
    key = hmac.new(master.encode(), b"cial-sso-tenant-key/v1/" + tenant_id.encode(), hashlib.sha256).digest()
    return key, "v1-" + hashlib.sha256(key).hexdigest()[:16]


KEY, KID = key_for(TENANT_ID)
OTHER_KEY, OTHER_KID = key_for(OTHER_ID)


def environ(**changes: str) -> dict[str, str]:
    base = {
        "CIAL_SSO_KEY": KEY.hex(),
        "CIAL_SSO_KID": KID,
        "CIAL_ADMIN_URL": ADMIN_URL,
        "TENANT_ID": TENANT_ID,
        "TENANT_SLUG": SLUG,
    }
    return {**base, **changes}


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": "cial-app",
        "aud": TENANT_ID,
        "tenant": SLUG,
        "sub": "42",
        "email": EMAIL,
        "role": "owner",
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    return {key: value for key, value in {**base, **changes}.items() if value is not None}


def mint(key: bytes = KEY, kid: str = KID, typ: str = "cial-sso+jwt", **changes: Any) -> str:
    return jwt.encode(claims(**changes), key, algorithm="HS256", headers={"typ": typ, "kid": kid})


def hand_made(header: dict[str, Any], *, sign: bool) -> str:
    return forged_tokens.hand_made(header, claims(), KEY, sign=sign)


def verifier(**changes: str) -> TokenVerifier:
    return TokenVerifier(SsoSettings.from_environ(environ(**changes)))


class TestTokenRules:
    def test_a_good_token_grants_its_owner(self) -> None:
        token = mint()
        grant = verifier().verify(token)
        body = jwt.decode(token, options={"verify_signature": False})
        assert grant == Grant("42", EMAIL, "owner", body["jti"], body["exp"] + 5)

    @pytest.mark.parametrize(
        ("case", "says"),
        [
            ("expired", "expired"),
            ("expired beyond the leeway", "expired"),
            ("issued in the future", "future"),
            ("tampered", "signature does not match"),
            ("another tenant's key", "key this tenant does not know"),
            ("another tenant's key under our kid", "signature does not match"),
            ("another tenant's audience", "another tenant"),
            ("another tenant's slug", "another tenant"),
            ("audience as a list", "another tenant"),
            ("another issuer", "not issued by the Cial admin"),
            ("alg none", "algorithm"),
            ("RS256 header, HMAC signature", "algorithm"),
            ("wrong type", "wrong type"),
            ("no type", "wrong type"),
            ("unknown kid", "key this tenant does not know"),
            ("missing", "no token"),
            ("empty", "no token"),
            ("garbage", "damaged"),
            ("not base64", "damaged"),
            ("huge", "damaged"),
            ("no jti", "'jti'"),
            ("no email", "'email'"),
            ("no tenant", "'tenant'"),
            ("bad jti", "no valid id"),
            ("email with a newline", "cannot use"),
            ("another role", "role"),
        ],
    )
    def test_each_bad_token_is_refused_saying_why(self, case: str, says: str) -> None:
        now = int(time.time())
        makers: dict[str, Any] = {
            "expired": lambda: mint(iat=now - 600, exp=now - 540),
            "expired beyond the leeway": lambda: mint(iat=now - 70, exp=now - 10),
            "issued in the future": lambda: mint(iat=now + 60, exp=now + 120),
            "tampered": lambda: tampered(mint()),
            "another tenant's key": lambda: mint(key=OTHER_KEY, kid=OTHER_KID),
            "another tenant's key under our kid": lambda: mint(key=OTHER_KEY),
            "another tenant's audience": lambda: mint(aud=OTHER_ID),
            "another tenant's slug": lambda: mint(tenant="globex"),
            "audience as a list": lambda: mint(aud=[TENANT_ID, OTHER_ID]),
            "another issuer": lambda: mint(iss="someone-else"),
            "alg none": lambda: hand_made({"alg": "none", "typ": "cial-sso+jwt", "kid": KID}, sign=False),
            "RS256 header, HMAC signature": lambda: hand_made(
                {"alg": "RS256", "typ": "cial-sso+jwt", "kid": KID}, sign=True
            ),
            "wrong type": lambda: mint(typ="JWT"),
            "no type": lambda: hand_made({"alg": "HS256", "kid": KID}, sign=True),
            "unknown kid": lambda: mint(kid="v1-0000000000000000"),
            "missing": lambda: None,
            "empty": lambda: "",
            "garbage": lambda: "not.a.token",
            "not base64": lambda: "%%%.%%%.%%%",
            "huge": lambda: mint(email="a" * 5000 + "@example.com"),
            "no jti": lambda: mint(jti=None),
            "no email": lambda: mint(email=None),
            "no tenant": lambda: mint(tenant=None),
            "bad jti": lambda: mint(jti="not-hex"),
            "email with a newline": lambda: mint(email="a@example.com\r\nX-Cial-User-Role: owner"),
            "another role": lambda: mint(role="admin"),
        }
        with pytest.raises(Refused) as refused:
            verifier().verify(makers[case]())
        assert says in refused.value.reason

    def test_a_token_within_the_leeway_passes(self) -> None:
        now = int(time.time())
        assert verifier().verify(mint(iat=now - 62, exp=now - 2)).email == EMAIL
        assert verifier().verify(mint(iat=now + 3, exp=now + 63)).email == EMAIL

    @pytest.mark.parametrize(
        ("changes", "says"),
        [
            ({"CIAL_SSO_KEY": ""}, "this tenant has no SSO key; recreate it"),
            ({"CIAL_SSO_KEY": "core-secret-not-hex"}, "not valid; recreate it"),
            ({"CIAL_SSO_KEY": "abcd"}, "too short"),
            ({"CIAL_SSO_KID": ""}, "no SSO key id"),
        ],
    )
    def test_without_a_usable_key_nothing_verifies(self, changes: dict[str, str], says: str) -> None:
        with pytest.raises(Refused) as refused:
            verifier(**changes).verify(mint())
        assert says in refused.value.reason

    def test_the_issuer_is_configurable(self) -> None:
        assert verifier(CIAL_SSO_ISSUER="cial-staging").verify(mint(iss="cial-staging")).role == "owner"
        with pytest.raises(Refused):
            verifier(CIAL_SSO_ISSUER="cial-staging").verify(mint())


def open_session(store: SignInStore, grant: Grant, session_id: str) -> None:
    identity = Identity(grant.user_id, grant.email, grant.role)
    store.open_session(jti=grant.jti, keep_until=grant.keep_until, identity=identity, session_id=session_id)


SESSION_A = "A" * 43
SESSION_B = "B" * 43


class TestSingleUse:
    def test_a_token_id_is_spent_once_also_for_a_new_store_on_the_same_file(self, tmp_path: Path) -> None:
        grant = verifier().verify(mint())
        first = SignInStore(tmp_path)
        open_session(first, grant, SESSION_A)
        with pytest.raises(TokenAlreadyUsed):
            open_session(first, grant, SESSION_B)
        first.close()
        restarted = SignInStore(tmp_path)  # what core back has after a restart
        with pytest.raises(TokenAlreadyUsed):
            open_session(restarted, grant, SESSION_B)
        reader = SessionReader(tmp_path)
        assert reader.lookup(SESSION_A) == Identity("42", EMAIL, "owner")
        assert reader.lookup(SESSION_B) is None  # a refused replay stored nothing
        restarted.close()
        reader.close()

    def test_spent_ids_are_forgotten_only_once_their_token_could_not_pass_anyway(
        self, tmp_path: Path
    ) -> None:
        now = [1_000_000.0]
        store = SignInStore(tmp_path, clock=lambda: now[0])
        grant = Grant("42", EMAIL, "owner", uuid.uuid4().hex, keep_until=1_000_065)
        open_session(store, grant, SESSION_A)
        now[0] = 1_000_065
        with pytest.raises(TokenAlreadyUsed):
            open_session(store, grant, SESSION_B)
        now[0] = 1_000_066
        open_session(store, grant, SESSION_B)  # purged first; the verifier refuses such a token anyway
        store.close()


class TestSessions:
    def test_a_session_lives_eight_hours_and_sign_out_ends_it_at_once(self, tmp_path: Path) -> None:
        now = [2_000_000.0]
        store = SignInStore(tmp_path, clock=lambda: now[0])
        reader = SessionReader(tmp_path, clock=lambda: now[0])
        open_session(store, Grant("42", EMAIL, "owner", uuid.uuid4().hex, 2_000_065), SESSION_A)
        open_session(store, Grant("42", EMAIL, "owner", uuid.uuid4().hex, 2_000_065), SESSION_B)
        assert reader.lookup(SESSION_A) is not None
        store.close_session(SESSION_A)
        assert reader.lookup(SESSION_A) is None
        now[0] += 8 * 3600 - 1
        assert reader.lookup(SESSION_B) is not None
        now[0] += 1
        assert reader.lookup(SESSION_B) is None
        store.close()
        reader.close()

    def test_the_file_keeps_no_session_id(self, tmp_path: Path) -> None:
        store = SignInStore(tmp_path)
        open_session(store, verifier().verify(mint()), SESSION_A)
        store.close()
        assert SESSION_A.encode() not in b"".join(path.read_bytes() for path in tmp_path.iterdir())

    def test_a_reader_before_the_database_exists_finds_nobody_and_makes_nothing(self, tmp_path: Path) -> None:
        reader = SessionReader(tmp_path)
        assert reader.lookup(SESSION_A) is None
        assert list(tmp_path.iterdir()) == []
        store = SignInStore(tmp_path)
        open_session(store, verifier().verify(mint()), SESSION_A)
        assert reader.lookup(SESSION_A) is not None  # tried again, found once it is there
        store.close()
        reader.close()

    @pytest.mark.parametrize("value", ["", "short", "A" * 44, "A" * 42 + "=", "../../etc"])
    def test_what_is_not_a_session_id_is_not_looked_up(self, tmp_path: Path, value: str) -> None:
        assert SessionReader(tmp_path).lookup(value) is None


@pytest.fixture
def back(tmp_path: Path) -> TestClient[Any]:
    return TestClient(
        create_app(tmp_path, siblings={}, environ=environ()), base_url="http://acme.localhost:8080"
    )


def set_cookie(response: Any) -> list[str]:
    headers: list[str] = response.headers.get_list("set-cookie")
    return headers


class TestSignInRoutes:
    def test_a_good_token_signs_in_with_the_contracts_cookie_and_headers(
        self, back: TestClient[Any], tmp_path: Path
    ) -> None:
        with back:
            response = back.get("/sso", params={"token": mint()}, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        [cookie] = set_cookie(response)
        name, _, rest = cookie.partition("=")
        session_id, _, attributes = rest.partition("; ")
        assert name == SESSION_COOKIE
        assert attributes == "HttpOnly; SameSite=Lax; Path=/; Max-Age=28800"
        assert SessionReader(tmp_path).lookup(session_id) == Identity("42", EMAIL, "owner")

    @pytest.mark.parametrize("token", [None, "garbage", "replayed"])
    def test_a_refusal_is_a_401_page_with_the_way_back_and_no_cookie(
        self, back: TestClient[Any], token: str | None
    ) -> None:
        with back:
            if token == "replayed":
                token = mint()
                assert back.get("/sso", params={"token": token}, follow_redirects=False).status_code == 303
            response = back.get("/sso", params={} if token is None else {"token": token})
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert f'href="{ADMIN_URL}"' in response.text
        assert not set_cookie(response)

    def test_the_reason_names_the_missing_key(self, tmp_path: Path) -> None:
        app = create_app(tmp_path, siblings={}, environ=environ(CIAL_SSO_KEY=""))
        with TestClient(app) as client:
            response = client.get("/sso", params={"token": mint()})
        assert response.status_code == 401
        assert "this tenant has no SSO key; recreate it" in response.text

    def test_sign_out_ends_the_session_and_clears_the_cookie(
        self, back: TestClient[Any], tmp_path: Path
    ) -> None:
        with back:
            signed = back.get("/sso", params={"token": mint()}, follow_redirects=False)
            session_id = signed.cookies[SESSION_COOKIE]
            out = back.post(
                "/sign-out",
                headers={"Origin": "http://acme.localhost:8080", "Sec-Fetch-Site": "same-origin"},
                follow_redirects=False,
            )
        assert out.status_code == 303
        assert out.headers["location"] == "/"
        assert set_cookie(out) == [f"{SESSION_COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0"]
        assert SessionReader(tmp_path).lookup(session_id) is None


class TestCrossOriginWrites:
    @pytest.mark.parametrize(
        "headers",
        [
            {"Origin": "http://evil.example"},
            {"Origin": "http://globex.localhost:8080"},
            {"Origin": "null"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site"},
            {"Origin": "http://acme.localhost:8080", "Sec-Fetch-Site": "cross-site"},
        ],
    )
    @pytest.mark.parametrize(
        ("method", "path"), [("POST", "/visits"), ("POST", "/sign-out"), ("POST", "/digest")]
    )
    def test_are_refused(
        self, back: TestClient[Any], headers: dict[str, str], method: str, path: str
    ) -> None:
        with back:
            response = back.request(method, path, headers=headers, follow_redirects=False)
        assert response.status_code == 403
        assert "Core refuses" in response.json()["detail"]

    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"Origin": "http://acme.localhost:8080", "Sec-Fetch-Site": "same-origin"},
            {"Origin": "HTTP://ACME.localhost:8080"},
        ],
    )
    def test_same_origin_and_non_browser_writes_pass(
        self, back: TestClient[Any], headers: dict[str, str]
    ) -> None:
        with back:
            assert back.post("/visits", headers=headers).status_code == 200

    def test_the_public_origin_comes_from_the_edges_forwarded_headers(self, back: TestClient[Any]) -> None:
        public = {"X-Forwarded-Host": "acme.localhost:9999", "X-Forwarded-Proto": "http"}
        with back:
            ok = back.post("/visits", headers={**public, "Origin": "http://acme.localhost:9999"})
            refused = back.post("/visits", headers={**public, "Origin": "http://acme.localhost:8080"})
        assert (ok.status_code, refused.status_code) == (200, 403)

    def test_reads_are_never_refused(self, back: TestClient[Any]) -> None:
        with back:
            assert back.get("/visits", headers={"Origin": "http://evil.example"}).status_code == 200
