"""L6: the whole platform from a clean state with the two commands a developer types.

`make local-down PURGE=1` → `make local-up` → the owner signs up and creates `acme` through the
API → `acme.localhost` answers through the router → Open lands signed in → `make local-down`
leaves no tenant container → `make local-up` brings `acme` back running with its visits intact.

The commands run exactly as a developer runs them (`make`, with its progress and health waits),
on a compose project, instance, network, ports and secrets file of this run's own, so a
developer's `cial` stack and data on the same engine are never touched. pytest-docker's
`docker_services` is not used: the subject here is `make local-up` itself (secrets, the role
script, health waits), which the fixture would bypass by running compose directly, and the
scenario takes the stack down and up again in its middle, where the fixture owns one up at the
start of the session and one down at its end.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import docker
import httpx
import pytest

from spec.containers import spec_instance
from spec.local_mode import LocalMode
from testkit.owner import Owner, signed_in
from testkit.polling import GiveUp, eventually
from testkit.ports import released_port

pytestmark = pytest.mark.docker

OWNER = Owner("Lena Local", "local-owner@example.com")
SESSION_COOKIE = "cial_core_session"


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMode]:
    mode = LocalMode(
        project=spec_instance("l6-local"),
        secrets_file=tmp_path_factory.mktemp("l6") / "secrets.env",
        app_port=released_port(),
        router_port=released_port(),
    )
    try:
        yield mode
    finally:
        mode.make("local-down", "PURGE=1")


def ours(engine: docker.DockerClient, local: LocalMode, kind: str) -> list[Any]:
    selector = {"label": f"cial.instance={local.project}"}
    if kind == "containers":
        return list(engine.containers.list(all=True, filters={"label": ["cial.tenant", selector["label"]]}))
    if kind == "volumes":
        return list(engine.volumes.list(filters=selector))
    return list(engine.networks.list(filters=selector))


def running(local: LocalMode, owner: httpx.Client, slug: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        body: dict[str, Any] = owner.get(f"/api/admin/tenants/{slug}").json()
        if body["state"] == "error":
            raise GiveUp(f"{slug} is in error: {body['state_reason']}\n{local.logs('app-api')[-4000:]}")
        return body if body["state"] == "running" else None

    return eventually(check, timeout=120, what=f"{slug} to be running")


def answering(local: LocalMode, slug: str) -> httpx.Response:
    def check() -> httpx.Response | None:
        response = local.via_router(slug)
        return response if response.status_code == 200 else None

    return eventually(check, timeout=60, what=f"{slug} to answer 200 through the router")


def visits(local: LocalMode, slug: str) -> int:
    count: int = local.via_router(slug, "/.cial/api/visits").json()["visits"]
    return count


class TestFromACleanState:
    def test_up_sign_up_create_open_down_and_up_again_keeps_the_tenant_and_its_data(
        self, local: LocalMode, engine: docker.DockerClient
    ) -> None:
        local.must("local-down", "PURGE=1")
        assert not local.secrets_file.exists()

        shown = local.must("local-up")
        assert f"→ http://localhost:{local.app_port}/admin" in shown, shown
        # No owner yet: the sign-up link with the setup token the owner needs (compose's App sees
        # this machine's browser as Docker's gateway, not as loopback).
        link = f"http://localhost:{local.app_port}/admin/signup?setup={local.setup_token}"
        assert link in shown, shown
        assert f"http://{{slug}}.localhost:{local.router_port}" in shown, shown
        assert stat.S_IMODE(local.secrets_file.stat().st_mode) == 0o600
        secrets_before = local.secrets_file.read_text()

        again = local.must("local-up")
        assert "nothing changed" in again, again
        assert local.secrets_file.read_text() == secrets_before

        owner = signed_in(local.app_url, OWNER, setup_token=local.setup_token)
        try:
            created = owner.post("/api/admin/tenants", json={"slug": "acme", "name": "Acme"})
            assert created.status_code == 201, created.text
            running(local, owner, "acme")
            home = answering(local, "acme")
            assert "Tenant acme" in home.text
            for _ in range(3):
                assert local.via_router("acme", "/.cial/api/visits", "POST").status_code in (200, 201)
            counted = visits(local, "acme")
            assert counted >= 3

            opened = owner.get("/api/admin/tenants/acme/open", follow_redirects=False)
            assert opened.status_code == 303, opened.text
            location = urlsplit(opened.headers["location"])
            assert location.netloc == f"acme.localhost:{local.router_port}"
            landed = local.via_router("acme", f"{location.path}?{location.query}")
            assert landed.status_code == 303 and landed.headers["location"] == "/"
            cookie = landed.cookies.get(SESSION_COOKIE)
            assert cookie
            page = local.via_router("acme", "/", Cookie=f"{SESSION_COOKIE}={cookie}")
            assert f"Tenant acme · signed in as {OWNER.email}" in page.text

            status = local.must("status")
            assert "acme" in status and "running" in status, status
        finally:
            owner.close()

        local.must("local-down")
        assert ours(engine, local, "containers") == [], "a tenant container outlived local-down"
        assert ours(engine, local, "volumes"), "local-down removed the tenant's volume"

        up_again = local.must("local-up")
        assert "signup?setup=" not in up_again, "the sign-up link is printed after the owner exists"
        owner = signed_in(local.app_url, OWNER, setup_token=local.setup_token)
        try:
            running(local, owner, "acme")
        finally:
            owner.close()
        answering(local, "acme")
        assert visits(local, "acme") == counted

        purged = local.must("local-down", "PURGE=1")
        assert "removed" in purged
        assert not local.secrets_file.exists()
        for kind in ("containers", "volumes", "networks"):
            assert ours(engine, local, kind) == [], f"{kind} outlived local-down PURGE=1"
