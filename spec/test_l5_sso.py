"""L5: "Open" in the admin lands the owner in the tenant, signed in; no forged or replayed token,
and nothing agent code can do inside the tenant, signs anyone in or sees the owner's session.

The whole stack (compose: Postgres, App, router, tenants). The router is published on a port fixed
for this module, so the App's Open links (`CIAL_TENANT_URL_TEMPLATE`) name the port Chromium must
use. Tokens for the bad-token cases are made here from the stack's master secret, with the key
derivation of docs/sso-contract.md written out independently of the App's code: if the two
disagreed, the good token case would fail.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import docker
import httpx
import jwt
import pytest
from docker.models.containers import Container
from playwright.sync_api import Browser

from spec.agent_probe import probe_as_agent
from spec.app_client import signed_in_page
from spec.containers import ComposeStack, spec_instance
from testkit import forged_tokens
from testkit.forged_tokens import tampered
from testkit.owner import Owner, signed_in
from testkit.polling import eventually
from testkit.ports import released_port

pytestmark = pytest.mark.docker

OWNER = Owner("Sol Signon", "sso-owner@example.com")
SESSION_COOKIE = "cial_core_session"
TYP = "cial-sso+jwt"
ISSUER = "cial-app"


@pytest.fixture(scope="module")
def stack() -> Iterator[ComposeStack]:
    port = released_port()
    overrides = {
        "CIAL_ROUTER_PORT": str(port),
        "CIAL_TENANT_URL_TEMPLATE": f"http://{{slug}}.localhost:{port}",
    }
    with ComposeStack(project=spec_instance("l5-sso"), overrides=overrides) as own:
        yield own


@pytest.fixture(scope="module")
def owner(stack: ComposeStack) -> Iterator[httpx.Client]:
    client = signed_in(stack.app_url, OWNER, setup_token=stack.setup_token)
    try:
        yield client
    finally:
        client.close()


def running(owner: httpx.Client, slug: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        body: dict[str, Any] = owner.get(f"/api/admin/tenants/{slug}").json()
        assert body["state"] != "error", body
        return body if body["state"] == "running" else None

    return eventually(check, timeout=90, what=f"{slug} to be running")


def ensure_tenant(owner: httpx.Client, slug: str) -> dict[str, Any]:
    response = owner.post("/api/admin/tenants", json={"slug": slug, "name": slug.title()})
    assert response.status_code in (201, 409), response.text
    return running(owner, slug)


@pytest.fixture(scope="module")
def acme(owner: httpx.Client) -> dict[str, Any]:
    return ensure_tenant(owner, "acme")


@pytest.fixture(scope="module")
def globex(owner: httpx.Client) -> dict[str, Any]:
    return ensure_tenant(owner, "globex")


# ------------------------------------------------------------------------------------ helpers


def tenant_key(master: str, tenant_id: str) -> tuple[bytes, str]:
    """The contract's derivation, written out here: (key, kid)."""
    key = hmac.new(master.encode(), b"cial-sso-tenant-key/v1/" + tenant_id.encode(), hashlib.sha256).digest()
    return key, "v1-" + hashlib.sha256(key).hexdigest()[:16]


def claims(tenant: dict[str, Any], /, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": str(tenant["id"]),
        "tenant": tenant["slug"],
        "sub": "spec-owner",
        "email": OWNER.email,
        "role": "owner",
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    return {**base, **changes}


def mint(
    stack: ComposeStack, tenant: dict[str, Any], /, *, key_of: dict[str, Any] | None = None, **changes: Any
) -> str:
    key, kid = tenant_key(stack.sso_secret, str((key_of or tenant)["id"]))
    headers = {"typ": TYP, "kid": kid}
    return jwt.encode(claims(tenant, **changes), key, algorithm="HS256", headers=headers)


def hand_made(stack: ComposeStack, tenant: dict[str, Any], header: dict[str, Any], sign: bool) -> str:
    """A token with any header: `alg: none` (no signature) or an RS256 header signed with the HMAC key
    (the "algorithm confusion" of RFC 8725 §2.1)."""
    key, _ = tenant_key(stack.sso_secret, str(tenant["id"]))
    return forged_tokens.hand_made(header, claims(tenant), key, sign=sign)


def tenant_host(stack: ComposeStack, slug: str) -> str:
    return f"{slug}.localhost:{stack.router_port}"


def sso(stack: ComposeStack, slug: str, token: str | None) -> httpx.Response:
    params = {} if token is None else {"token": token}
    return httpx.get(
        f"{stack.router_url}/.cial/sso",
        params=params,
        headers={"Host": tenant_host(stack, slug)},
        follow_redirects=False,
        timeout=10,
    )


def opened(owner: httpx.Client, slug: str) -> str:
    """The token of the App's Open link for `slug` (what the browser would follow)."""
    response = owner.get(f"/api/admin/tenants/{slug}/open", follow_redirects=False)
    assert response.status_code == 303, response.text
    [token] = parse_qs(urlsplit(response.headers["location"]).query)["token"]
    return token


def session_cookie(response: httpx.Response) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name.strip() == SESSION_COOKIE and rest.split(";")[0]:
            return rest.split(";")[0]
    return None


def tenant_container(engine: docker.DockerClient, stack: ComposeStack, slug: str) -> Container:
    [container] = engine.containers.list(
        filters={"label": [f"cial.slug={slug}", f"cial.instance={stack.project}"]}
    )
    return container


def page_via_router(stack: ComposeStack, slug: str, path: str = "/", **headers: str) -> httpx.Response:
    return httpx.get(
        f"{stack.router_url}{path}", headers={"Host": tenant_host(stack, slug), **headers}, timeout=10
    )


# ---------------------------------------------------------------------------------- the specs


class TestOpenInABrowser:
    def test_open_lands_on_the_tenant_signed_in_and_no_token_stays_in_url_or_history(
        self, stack: ComposeStack, acme: dict[str, Any], browser: Browser
    ) -> None:
        page = signed_in_page(browser, stack.app_url, OWNER)
        try:
            page.goto(f"{stack.app_url}/admin/tenants/acme")
            page.get_by_role("link", name="Open").click()
            page.wait_for_url(f"http://{tenant_host(stack, 'acme')}/")
            assert f"Tenant acme · signed in as {OWNER.email}" in page.locator("body").inner_text()
            assert "token" not in page.url

            history = page.context.new_cdp_session(page).send("Page.getNavigationHistory")
            urls = [entry["url"] for entry in history["entries"]]
            assert urls and not [url for url in urls if "token" in url], urls

            [cookie] = [
                c
                for c in page.context.cookies(f"http://{tenant_host(stack, 'acme')}/")
                if c["name"] == SESSION_COOKIE
            ]
            assert cookie["httpOnly"] is True
            assert cookie["sameSite"] == "Lax"
            assert cookie["domain"] == "acme.localhost"  # host-only: no Domain attribute, no leading dot
            assert cookie["expires"] > time.time()
            # The App's own cookies stay the App's: the tenant's origin holds only its own.
            assert {c["name"] for c in page.context.cookies(f"http://{tenant_host(stack, 'acme')}/")} == {
                SESSION_COOKIE
            }
        finally:
            page.close()

    def test_sign_out_ends_the_tenant_session(
        self, stack: ComposeStack, owner: httpx.Client, acme: dict[str, Any]
    ) -> None:
        signed = sso(stack, "acme", opened(owner, "acme"))
        cookie = session_cookie(signed)
        assert cookie
        headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
        assert OWNER.email in page_via_router(stack, "acme", **headers).text
        out = httpx.post(
            f"{stack.router_url}/.cial/sign-out",
            headers={
                "Host": tenant_host(stack, "acme"),
                "Origin": f"http://{tenant_host(stack, 'acme')}",
                **headers,
            },
            follow_redirects=False,
            timeout=10,
        )
        assert out.status_code == 303
        assert OWNER.email not in page_via_router(stack, "acme", **headers).text


class TestTheOpenLink:
    def test_the_link_carries_a_one_minute_token_for_that_tenant_alone(
        self, stack: ComposeStack, owner: httpx.Client, acme: dict[str, Any]
    ) -> None:
        response = owner.get("/api/admin/tenants/acme/open", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        location = urlsplit(response.headers["location"])
        assert (location.scheme, location.netloc, location.path) == (
            "http",
            tenant_host(stack, "acme"),
            "/.cial/sso",
        )
        token = parse_qs(location.query)["token"][0]
        key, kid = tenant_key(stack.sso_secret, str(acme["id"]))
        header = jwt.get_unverified_header(token)
        assert header == {"alg": "HS256", "typ": TYP, "kid": kid}
        body = jwt.decode(token, key, algorithms=["HS256"], audience=str(acme["id"]), issuer=ISSUER)
        assert body["exp"] - body["iat"] == 60
        assert (body["tenant"], body["email"], body["role"]) == ("acme", OWNER.email, "owner")

    def test_a_stopped_tenant_cannot_be_opened_and_nobody_signed_out_can_open(
        self, stack: ComposeStack, owner: httpx.Client
    ) -> None:
        ensure_tenant(owner, "dormant")
        assert owner.post("/api/admin/tenants/dormant/stop").status_code == 202
        refused = owner.get("/api/admin/tenants/dormant/open", follow_redirects=False)
        assert refused.status_code == 409
        assert "running" in refused.text
        anonymous = httpx.get(
            f"{stack.app_url}/api/admin/tenants/acme/open", follow_redirects=False, timeout=10
        )
        assert anonymous.status_code == 401
        assert "token" not in anonymous.headers.get("location", "")


class TestBadTokens:
    @pytest.mark.parametrize(
        "case",
        ["expired", "tampered", "another tenant's key", "another tenant's audience", "alg none",
         "RS256 header, HMAC signature", "wrong type", "unknown key id", "missing", "garbage"],
    )  # fmt: skip
    def test_each_is_refused_with_401_saying_why_and_sets_nothing(
        self, stack: ComposeStack, acme: dict[str, Any], globex: dict[str, Any], case: str
    ) -> None:
        _, kid = tenant_key(stack.sso_secret, str(acme["id"]))
        now = int(time.time())
        makers: dict[str, Callable[[], str | None]] = {
            "expired": lambda: mint(stack, acme, iat=now - 600, exp=now - 540),
            "tampered": lambda: tampered(mint(stack, acme)),
            "another tenant's key": lambda: mint(stack, acme, key_of=globex),
            "another tenant's audience": lambda: mint(stack, acme, aud=str(globex["id"]), tenant="globex"),
            "alg none": lambda: hand_made(stack, acme, {"alg": "none", "typ": TYP, "kid": kid}, sign=False),
            "RS256 header, HMAC signature": lambda: hand_made(
                stack, acme, {"alg": "RS256", "typ": TYP, "kid": kid}, sign=True
            ),
            "wrong type": lambda: jwt.encode(
                claims(acme), tenant_key(stack.sso_secret, str(acme["id"]))[0], algorithm="HS256",
                headers={"typ": "JWT", "kid": kid},
            ),
            "unknown key id": lambda: jwt.encode(
                claims(acme), tenant_key(stack.sso_secret, str(acme["id"]))[0], algorithm="HS256",
                headers={"typ": TYP, "kid": "v1-0000000000000000"},
            ),
            "missing": lambda: None,
            "garbage": lambda: "not.a.token",
        }  # fmt: skip
        response = sso(stack, "acme", makers[case]())
        assert response.status_code == 401, response.text
        assert session_cookie(response) is None
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "/admin" in response.text  # the way back

    def test_a_good_token_made_the_same_way_is_accepted(
        self, stack: ComposeStack, acme: dict[str, Any]
    ) -> None:
        response = sso(stack, "acme", mint(stack, acme))
        assert response.status_code == 303
        assert response.headers["location"] == "/"
        assert session_cookie(response)

    def test_an_open_link_for_acme_does_not_sign_in_at_globex(
        self, stack: ComposeStack, owner: httpx.Client, acme: dict[str, Any], globex: dict[str, Any]
    ) -> None:
        token = opened(owner, "acme")
        refused = sso(stack, "globex", token)
        assert refused.status_code == 401 and session_cookie(refused) is None
        # ...and the token, not spent by the refusal, still works where it belongs.
        assert sso(stack, "acme", token).status_code == 303

    def test_a_used_token_is_refused_again_also_after_the_tenant_restarted(
        self, stack: ComposeStack, owner: httpx.Client, acme: dict[str, Any], engine: docker.DockerClient
    ) -> None:
        token = opened(owner, "acme")
        assert sso(stack, "acme", token).status_code == 303
        assert sso(stack, "acme", token).status_code == 401

        tenant_container(engine, stack, "acme").restart(timeout=10)
        eventually(
            lambda: page_via_router(stack, "acme", "/.cial/api/healthz").status_code == 200,
            timeout=60,
            what="acme back after its restart",
        )
        replayed = sso(stack, "acme", token)
        assert replayed.status_code == 401 and session_cookie(replayed) is None


class TestAgentCodeInsideTheTenant:
    def test_cannot_reach_cores_services(
        self, stack: ComposeStack, acme: dict[str, Any], engine: docker.DockerClient
    ) -> None:
        tenant = tenant_container(engine, stack, "acme")
        code, listing = tenant.exec_run(["sh", "-c", "ls /run/cial-core"], user="cial")
        assert isinstance(listing, bytes) and code == 0, listing
        sockets = [f"/run/cial-core/{name}" for name in listing.decode().split()]
        assert sockets, "Core's sockets were not found where the spec looks for them"
        results = probe_as_agent(tenant, ["/run/cial-core", *sockets, "127.0.0.1:4000", "127.0.0.1:4001"])
        assert not [t for t, r in results.items() if r in ("open", "listed")], results

    def test_never_sees_the_owners_tenant_session_nor_a_forged_identity(
        self, stack: ComposeStack, owner: httpx.Client, acme: dict[str, Any]
    ) -> None:
        cookie = session_cookie(sso(stack, "acme", opened(owner, "acme")))
        assert cookie
        seen = page_via_router(
            stack, "acme", "/.platform/request-headers", Cookie=f"{SESSION_COOKIE}={cookie}; theme=dark"
        )
        assert seen.status_code == 200, seen.text
        headers = {k.lower(): v for k, v in seen.json()["headers"].items()}
        assert SESSION_COOKIE not in headers.get("cookie", "")
        assert cookie not in json.dumps(seen.json())
        assert "theme=dark" in headers.get("cookie", "")  # the platform's own cookies pass
        assert headers.get("x-cial-user-email") == OWNER.email  # identity comes from the edge

        forged = page_via_router(
            stack, "acme", "/.platform/request-headers", **{"X-Cial-User-Email": "mallory@example.com"}
        )
        forged_headers = {k.lower(): v for k, v in forged.json()["headers"].items()}
        assert "mallory@example.com" not in json.dumps(forged_headers)
        assert "x-cial-user-email" not in forged_headers
        assert (
            "signed in as"
            not in page_via_router(stack, "acme", "/", **{"X-Cial-User-Email": "mallory@example.com"}).text
        )

    def test_cannot_register_a_service_worker_over_the_tenants_origin(
        self, stack: ComposeStack, acme: dict[str, Any]
    ) -> None:
        response = page_via_router(stack, "acme", "/sw.js", **{"Service-Worker": "script"})
        assert response.status_code == 403


class TestNoLogHoldsAToken:
    def test_router_app_and_tenant_logs_never_show_a_token(
        self, stack: ComposeStack, owner: httpx.Client, acme: dict[str, Any], engine: docker.DockerClient
    ) -> None:
        good = opened(owner, "acme")
        assert sso(stack, "acme", good).status_code == 303
        bad = mint(stack, acme, exp=int(time.time()) - 600, iat=int(time.time()) - 660)
        assert sso(stack, "acme", bad).status_code == 401
        logs = {
            "router": stack.logs("router"),
            "app-api": stack.logs("app-api"),
            "tenant": bytes(tenant_container(engine, stack, "acme").logs()).decode(errors="replace"),
        }
        assert "/.cial/sso" in logs["router"]  # the requests were logged, without their query
        for name, text in logs.items():
            for token in (good, bad):
                assert token not in text, name
                assert token.split(".")[2] not in text, name  # not even the signature
            assert "token=" not in text, name
