"""Idle tenants on the compose stack: a tenant unused for its idle time is stopped by the
router (through the App), the next browser request (headless Chromium) is held while it starts
and served, with its data intact; an open WebSocket keeps it up; restarting the router or the
App neither starts nor stops a tenant."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import httpx
import pytest
import websockets
from playwright.sync_api import Browser

from spec.containers import ComposeStack
from testkit.aio import run_async
from testkit.owner import Owner, in_state, signed_in

pytestmark = pytest.mark.docker

OWNER = Owner("Ida Idle", "idle@example.com")
IDLE_SECONDS = 3


@pytest.fixture(scope="module")
def idle_stack(stack: ComposeStack) -> ComposeStack:
    """The session's stack, emptied, with this module's owner (the App has one owner)."""
    stack.fresh()
    signed_in(stack.app_url, OWNER, setup_token=stack.setup_token).close()
    return stack


@pytest.fixture
def owner(idle_stack: ComposeStack) -> Iterator[httpx.Client]:
    # Per test: one of them restarts the App, which publishes it on another port.
    client = signed_in(idle_stack.app_url, OWNER)
    try:
        yield client
    finally:
        client.close()


def via_router(stack: ComposeStack, slug: str, path: str, method: str = "GET") -> httpx.Response:
    return httpx.request(
        method, f"{stack.router_url}{path}", headers={"Host": f"{slug}.localhost:8080"}, timeout=60
    )


def visits(stack: ComposeStack, slug: str) -> int:
    count: int = via_router(stack, slug, "/.cial/api/visits").json()["visits"]
    return count


def container_state(engine: docker.DockerClient, tenant_id: str) -> str:
    [container] = engine.containers.list(all=True, filters={"label": f"cial.tenant={tenant_id}"})
    return str(container.status)


@pytest.fixture
def tenant(stack: ComposeStack, owner: httpx.Client) -> Iterator[dict[str, Any]]:
    slug = f"i{uuid.uuid4().hex[:8]}"
    assert owner.post("/api/admin/tenants", json={"slug": slug, "name": f"Idle {slug}"}).status_code == 201
    body = in_state(owner, slug, "running")
    try:
        yield body
    finally:
        # A client of its own: the App may have been restarted (and published anew) meanwhile.
        client = signed_in(stack.app_url, OWNER, setup_token=stack.setup_token)
        try:
            client.delete(f"/api/admin/tenants/{slug}")
        finally:
            client.close()


def idle_after(owner: httpx.Client, slug: str, seconds: int | None) -> None:
    answer = owner.put(f"/api/admin/tenants/{slug}/idle-time", json={"idle_after_seconds": seconds})
    assert answer.status_code == 200, answer.text


class TestIdleTenants:
    def test_an_idle_tenant_stops_and_the_next_browser_request_is_served_with_its_data(
        self, stack: ComposeStack, owner: httpx.Client, tenant: dict[str, Any], browser: Browser,
        engine: docker.DockerClient,
    ) -> None:  # fmt: skip
        slug = tenant["slug"]
        for _ in range(3):
            assert via_router(stack, slug, "/.cial/api/visits", "POST").status_code in (200, 201)
        counted = visits(stack, slug)
        idle_after(owner, slug, IDLE_SECONDS)

        idle = in_state(owner, slug, "idle", within=60)
        assert idle["desired_state"] == "running"
        assert container_state(engine, tenant["id"]) == "exited"

        page = browser.new_page()
        try:
            port = int(stack.router_url.rsplit(":", 1)[1])
            started = time.monotonic()
            response = page.goto(f"http://{slug}.localhost:{port}/", timeout=60_000)
            woke_in = time.monotonic() - started
            assert response is not None and response.status == 200
            assert page.locator("h1").inner_text() == f"Platform · Tenant {slug}"
        finally:
            page.close()
        print(f"woken by Chromium's request in {woke_in:.2f} s")
        assert container_state(engine, tenant["id"]) == "running"
        assert visits(stack, slug) == counted

    def test_an_open_websocket_keeps_it_up_and_closing_it_lets_it_stop(
        self, stack: ComposeStack, owner: httpx.Client, tenant: dict[str, Any]
    ) -> None:
        slug = tenant["slug"]

        async def hold_open() -> str | bytes:
            port = int(stack.router_url.rsplit(":", 1)[1])
            async with websockets.connect(
                f"ws://{slug}.localhost:8080/ws", host="127.0.0.1", port=port, open_timeout=10
            ) as socket:
                await asyncio.to_thread(idle_after, owner, slug, IDLE_SECONDS)
                await asyncio.sleep(3 * IDLE_SECONDS + 2)
                body = await asyncio.to_thread(owner.get, f"/api/admin/tenants/{slug}")
                state = body.json()["state"]
                assert state == "running", f"a tenant with an open WebSocket went {state}"
                await socket.send("still here")
                return await socket.recv()

        assert run_async(hold_open) == "still here"
        in_state(owner, slug, "idle", within=60)

    def test_restarting_the_router_or_the_app_starts_and_stops_nothing(
        self, stack: ComposeStack, owner: httpx.Client, tenant: dict[str, Any], engine: docker.DockerClient
    ) -> None:
        slug = tenant["slug"]
        idle_after(owner, slug, IDLE_SECONDS)
        in_state(owner, slug, "idle", within=60)
        stack.restart("router")
        stack.wait_until_healthy("router")
        stack.restart("app-api")
        time.sleep(2 * IDLE_SECONDS)  # a few rounds of the reconciler and the router's keeper
        fresh = signed_in(stack.app_url, OWNER, setup_token=stack.setup_token)
        try:
            assert fresh.get(f"/api/admin/tenants/{slug}").json()["state"] == "idle"
        finally:
            fresh.close()
        assert container_state(engine, tenant["id"]) == "exited"
        # And still wakes.
        assert via_router(stack, slug, "/.cial/api/visits").status_code == 200
