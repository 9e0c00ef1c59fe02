"""L5, the tenant's half: one tenant container, SSO tokens made here with docs/sso-contract.md's
header and claims, and `agent` (inside the container) trying what hostile platform code would.

The whole-stack spec (spec/test_l5_sso.py) runs the same through the App and the router; this one
needs only the tenant image, so the tenant's side can be verified on its own.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import docker
import httpx
import jwt
import pytest
from docker.models.containers import Container

from spec.agent_probe import probe_as_agent
from spec.containers import TENANT_IMAGE, spec_instance
from testkit.docker_sweep import sweep
from testkit.polling import eventually

pytestmark = pytest.mark.docker

INSTANCE = spec_instance("l5-tenant")
RUN_LABEL = {"cial.test": "1", "cial.instance": INSTANCE}
TENANT_ID = str(uuid.uuid4())
SLUG = "spec-l5"
KEY = secrets.token_bytes(32)
KID = "v1-" + secrets.token_hex(8)
ISSUER = "cial-app"
ADMIN_URL = "http://localhost:3100/admin"
EMAIL = "owner-l5@example.com"
SESSION_COOKIE = "cial_core_session"
HEALTH_PATH = "/.cial/api/healthz"


def mint(**changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": TENANT_ID,
        "tenant": SLUG,
        "sub": "7",
        "email": EMAIL,
        "role": "owner",
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
        **changes,
    }
    return jwt.encode(claims, KEY, algorithm="HS256", headers={"typ": "cial-sso+jwt", "kid": KID})


@dataclass
class Tenant:
    container: Container

    @property
    def url(self) -> str:
        self.container.reload()
        bindings = self.container.attrs["NetworkSettings"]["Ports"].get("8080/tcp")
        return f"http://127.0.0.1:{bindings[0]['HostPort']}"

    def get(self, path: str, **headers: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers=headers, timeout=10, follow_redirects=False)

    def sso(self, token: str | None) -> httpx.Response:
        return httpx.get(
            f"{self.url}/.cial/sso",
            params={} if token is None else {"token": token},
            timeout=10,
            follow_redirects=False,
        )

    def wait_healthy(self) -> None:
        def answers() -> bool:
            try:
                return self.get(HEALTH_PATH).status_code == 200
            except (httpx.TransportError, TypeError, KeyError):
                return False

        eventually(answers, timeout=60, what="the tenant to answer its health check")

    def logs(self) -> str:
        return bytes(self.container.logs()).decode(errors="replace")


def start_tenant(client: docker.DockerClient) -> Tenant:
    ports: dict[str, Any] = {"8080/tcp": ("127.0.0.1",)}  # a free port on loopback only
    container: Container = client.containers.run(
        TENANT_IMAGE,
        detach=True,
        environment={
            "TENANT_ID": TENANT_ID,
            "TENANT_SLUG": SLUG,
            "CIAL_SSO_KEY": KEY.hex(),
            "CIAL_SSO_KID": KID,
            "CIAL_SSO_ISSUER": ISSUER,
            "CIAL_ADMIN_URL": ADMIN_URL,
        },
        ports=ports,
        labels=RUN_LABEL,
        mem_limit="256m",
    )
    tenant = Tenant(container)
    tenant.wait_healthy()
    return tenant


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    engine = docker.from_env()
    try:
        yield engine
    finally:
        sweep(INSTANCE)
        engine.close()


@pytest.fixture(scope="module")
def tenant(client: docker.DockerClient) -> Iterator[Tenant]:
    own = start_tenant(client)
    try:
        yield own
    finally:
        own.container.remove(force=True, v=True)


def session_of(response: httpx.Response) -> tuple[str, str] | None:
    """(value, attributes) of Core's cookie in a response, if it sets one with a value."""
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        value, _, attributes = rest.partition("; ")
        if name == SESSION_COOKIE and value:
            return value, attributes
    return None


def signed_in(tenant: Tenant) -> str:
    session = session_of(tenant.sso(mint()))
    assert session is not None
    return session[0]


class TestSignIn:
    def test_a_good_token_lands_on_slash_with_the_contracts_cookie(self, tenant: Tenant) -> None:
        response = tenant.sso(mint())
        assert response.status_code == 303
        assert response.headers["location"] == "/"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        session = session_of(response)
        assert session is not None
        assert session[1] == "HttpOnly; SameSite=Lax; Path=/; Max-Age=28800"  # host-only: no Domain
        page = tenant.get("/", Cookie=f"{SESSION_COOKIE}={session[0]}")
        assert f"Tenant {SLUG} · signed in as {EMAIL}" in page.text

    def test_without_a_session_the_page_is_signed_out(self, tenant: Tenant) -> None:
        assert "signed in as" not in tenant.get("/").text

    @pytest.mark.parametrize(
        ("case", "says"),
        [
            ("expired", "expired"),
            ("another tenant", "another tenant"),
            ("missing", "no token"),
            ("garbage", "damaged"),
        ],
    )
    def test_a_bad_token_gets_the_401_page_and_no_cookie(self, tenant: Tenant, case: str, says: str) -> None:
        now = int(time.time())
        makers: dict[str, Callable[[], str | None]] = {
            "expired": lambda: mint(iat=now - 600, exp=now - 540),
            "another tenant": lambda: mint(aud=str(uuid.uuid4())),
            "missing": lambda: None,
            "garbage": lambda: "not.a.token",
        }
        response = tenant.sso(makers[case]())
        assert response.status_code == 401
        assert says in response.text
        assert f'href="{ADMIN_URL}"' in response.text
        assert session_of(response) is None
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"

    def test_sign_out_ends_the_session(self, tenant: Tenant) -> None:
        session = signed_in(tenant)
        cookie = f"{SESSION_COOKIE}={session}"
        assert EMAIL in tenant.get("/", Cookie=cookie).text
        foreign = httpx.post(
            f"{tenant.url}/.cial/sign-out",
            headers={"Cookie": cookie, "Origin": "http://evil.example"},
            timeout=10,
        )
        assert foreign.status_code == 403
        assert EMAIL in tenant.get("/", Cookie=cookie).text  # a foreign page cannot sign the owner out
        out = httpx.post(
            f"{tenant.url}/.cial/sign-out", headers={"Cookie": cookie, "Origin": tenant.url}, timeout=10
        )
        assert out.status_code == 303
        assert EMAIL not in tenant.get("/", Cookie=cookie).text

    def test_no_log_line_holds_a_token(self, tenant: Tenant) -> None:
        good, bad = mint(), mint(exp=int(time.time()) - 600, iat=int(time.time()) - 660)
        assert tenant.sso(good).status_code == 303
        assert tenant.sso(bad).status_code == 401
        logs = tenant.logs()
        assert "GET /.cial/sso" in logs  # the requests were logged, without their query
        for token in (good, bad):
            assert token not in logs
            assert token.split(".")[2] not in logs
        assert "token=" not in logs


class TestReplay:
    def test_a_used_token_is_refused_again_also_after_docker_restart(
        self, client: docker.DockerClient
    ) -> None:
        tenant = start_tenant(client)
        try:
            token = mint()
            assert tenant.sso(token).status_code == 303
            assert tenant.sso(token).status_code == 401
            tenant.container.restart(timeout=10)
            tenant.wait_healthy()
            replayed = tenant.sso(token)
            assert replayed.status_code == 401
            assert "already used" in replayed.text
            assert session_of(replayed) is None
        finally:
            tenant.container.remove(force=True, v=True)


class TestAgentInsideTheTenant:
    def test_cannot_list_nor_connect_to_cores_sockets_nor_old_ports(self, tenant: Tenant) -> None:
        code, listing = tenant.container.exec_run(["ls", "/run/cial-core"], user="cial")
        assert isinstance(listing, bytes) and code == 0, listing
        sockets = [f"/run/cial-core/{name}" for name in listing.decode().split()]
        assert sorted(sockets) == ["/run/cial-core/back.sock", "/run/cial-core/front.sock"]
        targets = ["/run/cial-core", *sockets, "127.0.0.1:4000", "127.0.0.1:4001"]
        results = probe_as_agent(tenant.container, targets)
        assert results["/run/cial-core"] == "PermissionError"
        assert [results[path] for path in sockets] == ["PermissionError", "PermissionError"]
        assert results["127.0.0.1:4000"] == results["127.0.0.1:4001"] == "ConnectionRefusedError"

    def test_the_socket_directory_is_cials_alone(self, tenant: Tenant) -> None:
        code, output = tenant.container.exec_run(["stat", "-c", "%U:%G %a", "/run/cial-core"])
        assert isinstance(output, bytes) and code == 0, output
        assert output.decode().strip() == "cial:cial 700"

    def test_the_platform_never_sees_cores_cookie_but_sees_its_own_and_the_identity(
        self, tenant: Tenant
    ) -> None:
        session = signed_in(tenant)
        seen = tenant.get("/.platform/request-headers", Cookie=f"{SESSION_COOKIE}={session}; theme=dark")
        assert seen.status_code == 200, seen.text
        headers = seen.json()["headers"]
        assert session not in json.dumps(seen.json())
        assert SESSION_COOKIE not in headers.get("cookie", "")
        assert headers.get("cookie") == "theme=dark"
        assert headers.get("x-cial-user-email") == EMAIL
        assert headers.get("x-cial-user-role") == "owner"

    def test_a_forged_identity_header_is_removed(self, tenant: Tenant) -> None:
        forged = {"X-Cial-User-Email": "mallory@example.com", "X-Cial-User-Role": "owner"}
        seen = tenant.get("/.platform/request-headers", **forged).json()["headers"]
        assert "mallory@example.com" not in json.dumps(seen)
        assert not [name for name in seen if name.lower().startswith("x-cial-")]
        assert "signed in as" not in tenant.get("/", **forged).text

    def test_a_service_worker_script_is_refused_on_platform_paths(self, tenant: Tenant) -> None:
        assert tenant.get("/sw.js", **{"Service-Worker": "script"}).status_code == 403
        assert tenant.get("/sw.js").status_code == 404  # the platform's own answer otherwise

    def test_cores_api_refuses_writes_from_another_site(self, tenant: Tenant) -> None:
        response = httpx.post(
            f"{tenant.url}/.cial/api/visits", headers={"Sec-Fetch-Site": "cross-site"}, timeout=10
        )
        assert response.status_code == 403
