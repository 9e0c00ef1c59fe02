"""L4: the router. `{slug}.localhost:8080` reaches that tenant's edge through the compose stack's
router (its own service), following the tenant's state without a restart of the router.

Outside a browser `*.localhost` does not resolve here, so requests go to the router's loopback
port with the tenant named in the Host header; Chromium resolves `*.localhost` itself.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from playwright.sync_api import Browser

from spec.containers import ComposeStack
from testkit.owner import Owner, signed_in
from testkit.polling import eventually

pytestmark = pytest.mark.docker

OWNER = Owner("Rita Router", "router@example.com")


def via_router(stack: ComposeStack, slug: str, path: str = "/", **headers: str) -> httpx.Response:
    return httpx.get(
        f"{stack.router_url}{path}", headers={"Host": f"{slug}.localhost:8080", **headers}, timeout=10
    )


def answers(stack: ComposeStack, slug: str, status: int, *, within: float = 10) -> httpx.Response:
    """The router's answer for `slug` once it is `status` (the router follows the database)."""

    def check() -> httpx.Response | None:
        response = via_router(stack, slug)
        return response if response.status_code == status else None

    return eventually(check, timeout=within, what=f"{status} for {slug}")


@pytest.fixture(scope="module")
def owner(stack: ComposeStack) -> Iterator[httpx.Client]:
    client = signed_in(stack.app_url, OWNER)
    try:
        yield client
    finally:
        client.close()


def running(owner: httpx.Client, slug: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        body: dict[str, Any] = owner.get(f"/api/admin/tenants/{slug}").json()
        assert body["state"] not in ("error",), body
        return body if body["state"] == "running" else None

    return eventually(check, timeout=90, what=f"{slug} to be running")


def new_tenant(owner: httpx.Client) -> str:
    slug = f"r{uuid.uuid4().hex[:8]}"
    response = owner.post("/api/admin/tenants", json={"slug": slug, "name": f"Router {slug}"})
    assert response.status_code == 201, response.text
    running(owner, slug)
    return slug


@pytest.fixture(scope="module")
def acme(owner: httpx.Client) -> str:
    return new_tenant(owner)


class TestRouting:
    def test_a_running_tenant_answers_at_its_host(self, stack: ComposeStack, acme: str) -> None:
        response = answers(stack, acme, 200)
        assert f"Platform · Tenant {acme}" in response.text

    def test_every_surface_of_the_tenant_is_behind_its_host(self, stack: ComposeStack, acme: str) -> None:
        assert f"Cial Core · Tenant {acme}" in via_router(stack, acme, "/.cial").text
        assert via_router(stack, acme, "/.cial/api/healthz").json()["tenant"] == acme

    def test_an_unknown_tenant_is_404_and_a_foreign_host_routes_nowhere(self, stack: ComposeStack) -> None:
        assert via_router(stack, "nobody-here").status_code == 404
        foreign = httpx.get(stack.router_url, headers={"Host": "evil.example"}, timeout=10)
        assert foreign.status_code == 404
        by_address = httpx.get(stack.router_url, timeout=10)  # Host: 127.0.0.1:<port>
        assert by_address.status_code == 404

    def test_the_bare_router_points_to_the_admin(self, stack: ComposeStack) -> None:
        response = httpx.get(stack.router_url, headers={"Host": "localhost:8080"}, timeout=10)
        assert response.status_code == 200 and "/admin" in response.text

    def test_a_client_asking_for_json_gets_json_refusals(self, stack: ComposeStack) -> None:
        response = via_router(stack, "nobody-here", Accept="application/json")
        assert response.status_code == 404
        assert response.json()["status"] == 404

    def test_two_tenants_under_interleaved_load_never_get_each_others_answers(
        self, stack: ComposeStack, owner: httpx.Client, acme: str
    ) -> None:
        beta = new_tenant(owner)

        async def load() -> list[tuple[str, str]]:
            async with httpx.AsyncClient(base_url=stack.router_url, timeout=30) as client:

                async def one(slug: str) -> tuple[str, str]:
                    response = await client.get("/", headers={"Host": f"{slug}.localhost:8080"})
                    return slug, response.text

                return await asyncio.gather(*(one((acme, beta)[i % 2]) for i in range(200)))

        answers = asyncio.run(load())
        assert len(answers) == 200
        for slug, text in answers:
            assert f"Platform · Tenant {slug}</h1>" in text, (slug, text[:200])

    def test_a_websocket_echoes_through_router_and_edge(self, stack: ComposeStack, acme: str) -> None:
        async def echo() -> list[str | bytes]:
            url = stack.router_url.replace("http://", "ws://") + "/ws"
            async with websockets.connect(
                url, additional_headers={"Host": f"{acme}.localhost:8080"}, open_timeout=10
            ) as socket:
                received = []
                for message in ("hello", b"\x00\x01binary"):
                    await socket.send(message)
                    received.append(await socket.recv())
                return received

        assert asyncio.run(echo()) == ["hello", b"\x00\x01binary"]

    def test_forwarded_headers_from_a_client_are_replaced_and_the_apps_cookie_never_reaches_a_tenant(
        self, stack: ComposeStack, acme: str
    ) -> None:
        # The platform front's 404 page echoes nothing; core back's healthz does not either, so the
        # proof is what the edge logs would show; here: the request still routes by the real Host.
        response = via_router(
            stack, acme, "/", **{"X-Forwarded-Host": "beta.localhost", "Cookie": "cial_session=stolen"}
        )
        assert f"Platform · Tenant {acme}" in response.text


class TestFollowingTheTenantsState:
    def test_stopped_is_503_started_is_200_again_and_deleted_is_404_without_restarting_the_router(
        self, stack: ComposeStack, owner: httpx.Client
    ) -> None:
        slug = new_tenant(owner)
        answers(stack, slug, 200)

        assert owner.post(f"/api/admin/tenants/{slug}/stop").status_code == 202
        stopped = answers(stack, slug, 503, within=5)
        assert stopped.headers["retry-after"]
        assert "stop" in stopped.text

        assert owner.post(f"/api/admin/tenants/{slug}/start").status_code == 202
        running(owner, slug)
        answers(stack, slug, 200, within=5)

        assert owner.delete(f"/api/admin/tenants/{slug}").status_code in (202, 204)
        answers(stack, slug, 404, within=30)


class TestInABrowser:
    def test_chromium_opens_the_tenant_at_its_localhost_name(
        self, stack: ComposeStack, acme: str, browser: Browser
    ) -> None:
        page = browser.new_page()
        try:
            page.goto(f"http://{acme}.localhost:{stack.router_port}/")
            assert page.locator("h1").inner_text() == f"Platform · Tenant {acme}"
        finally:
            page.close()
