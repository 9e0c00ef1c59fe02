"""L4: the router. `{slug}.localhost:8080` reaches that tenant's edge through the compose stack's
router (its own service), following the tenant's state without a restart of the router.

Outside a browser `*.localhost` does not resolve here, so requests go to the router's loopback
port with the tenant named in the Host header; Chromium resolves `*.localhost` itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import httpx
import pytest
import websockets
from docker.models.containers import Container
from playwright.sync_api import Browser

from spec.autobahn import DEFAULT_GROUPS, run_suite
from spec.containers import ComposeStack, spec_instance
from spec.host_relay import HostRelay
from testkit.aio import run_async
from testkit.owner import Owner, in_state, signed_in
from testkit.polling import eventually

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def stack() -> Iterator[ComposeStack]:
    """A stack of this module's own: its owner signs up on a database nobody else has used."""
    with ComposeStack(project=spec_instance("l4-router")) as own:
        yield own


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
    client = signed_in(stack.app_url, OWNER, setup_token=stack.setup_token)
    try:
        yield client
    finally:
        client.close()


def running(owner: httpx.Client, slug: str) -> dict[str, Any]:
    return in_state(owner, slug, "running")


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
    def test_a_running_tenant_answers_at_its_host(
        self, stack: ComposeStack, owner: httpx.Client, acme: str
    ) -> None:
        assert owner.get(f"/api/admin/tenants/{acme}").json()["url"] == f"http://{acme}.localhost:8080"
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

        answers = run_async(load)
        assert len(answers) == 200
        for slug, text in answers:
            assert f"Platform · Tenant {slug}</h1>" in text, (slug, text[:200])

    def test_a_websocket_echoes_through_router_and_edge(self, stack: ComposeStack, acme: str) -> None:
        async def echo() -> list[str | bytes]:
            # The URL names the tenant (it becomes the Host header); the socket goes to the router.
            port = int(stack.router_url.rsplit(":", 1)[1])
            async with websockets.connect(
                f"ws://{acme}.localhost:8080/ws", host="127.0.0.1", port=port, open_timeout=10
            ) as socket:
                received = []
                for message in ("hello", b"\x00\x01binary"):
                    await socket.send(message)
                    received.append(await socket.recv())
                return received

        assert run_async(echo) == ["hello", b"\x00\x01binary"]

    def test_forwarded_headers_from_a_client_are_replaced_and_the_apps_cookies_never_reach_a_tenant(
        self, stack: ComposeStack, acme: str
    ) -> None:
        response = via_router(
            stack,
            acme,
            "/.cial/api/request-info",
            **{
                "X-Forwarded-For": "6.6.6.6",
                "X-Forwarded-Host": "beta.localhost",
                "X-Forwarded-Proto": "https",
                "Forwarded": "for=6.6.6.6",
                "X-Real-IP": "6.6.6.6",
                "Cookie": "cial_session=stolen; cial_csrf=x; tenant_pref=dark",
            },
        )
        seen = response.json()
        assert seen["headers"]["x-forwarded-host"] == f"{acme}.localhost:8080"
        assert seen["headers"]["x-forwarded-proto"] == "http"
        assert "6.6.6.6" not in seen["headers"]["x-forwarded-for"]
        assert seen["cookies"] == ["tenant_pref"]


class TestLargeBodies:
    SIZE = 50 * 1024 * 1024

    def test_50_mb_up_and_down_stream_intact_and_the_router_does_not_hold_them(
        self, stack: ComposeStack, acme: str, engine: docker.DockerClient
    ) -> None:
        router = stack_service(engine, stack, "router")
        before = router_rss_kib(router)
        chunk = bytes(range(256)) * 4096  # 1 MiB

        def body() -> Iterator[bytes]:
            for _ in range(self.SIZE // len(chunk)):
                yield chunk

        headers = {"Host": f"{acme}.localhost:8080", "Content-Length": str(self.SIZE)}
        up = httpx.post(f"{stack.router_url}/.cial/api/digest", content=body(), headers=headers, timeout=120)
        expected = hashlib.sha256(chunk * (self.SIZE // len(chunk))).hexdigest()
        assert up.json() == {"bytes": self.SIZE, "sha256": expected}

        received, hashed = 0, hashlib.sha256()
        with httpx.stream(
            "GET",
            f"{stack.router_url}/.cial/api/bytes/{self.SIZE}",
            headers={"Host": f"{acme}.localhost:8080"},
            timeout=120,
        ) as down:
            assert down.status_code == 200
            for piece in down.iter_bytes():
                received += len(piece)
                hashed.update(piece)
        assert received == self.SIZE
        assert hashed.hexdigest() == expected  # the tenant's pattern is the same 256-byte cycle
        growth = router_rss_kib(router) - before
        assert growth < 8 * 1024, f"the router grew by {growth} KiB while passing 100 MB"


class TestWebSocketConformance:
    def test_autobahn_groups_1_to_7_9_and_10_pass_through_router_and_edge_and_the_tenant_lives(
        self, stack: ComposeStack, acme: str, engine: docker.DockerClient
    ) -> None:
        tenant = container_of(engine, f"cial.slug={acme}")
        port = int(stack.router_url.rsplit(":", 1)[1])
        with HostRelay(port, f"{acme}.localhost:8080") as relay:
            failed = run_suite(f"ws://127.0.0.1:{relay.port}/.cial/api/ws", include=DEFAULT_GROUPS)
        assert failed == {}
        tenant.reload()
        assert tenant.attrs["RestartCount"] == 0
        assert tenant.attrs["State"]["OOMKilled"] is False


class TestFollowingTheTenantsState:
    def test_stopped_is_503_started_is_200_again_and_deleted_is_404_without_restarting_the_router(
        self, stack: ComposeStack, owner: httpx.Client
    ) -> None:
        slug = new_tenant(owner)
        answers(stack, slug, 200)

        assert owner.post(f"/api/admin/tenants/{slug}/stop").status_code == 202
        # The router hears of the change as it commits (LISTEN/NOTIFY): within a second.
        stopped = answers(stack, slug, 503, within=1)
        assert stopped.headers["retry-after"]
        assert "stop" in stopped.text

        # The router refuses from `stopping` on; start is allowed once the container is down.
        in_state(owner, slug, "stopped")
        assert owner.post(f"/api/admin/tenants/{slug}/start").status_code == 202
        running(owner, slug)
        answers(stack, slug, 200, within=1)

        assert owner.delete(f"/api/admin/tenants/{slug}").status_code in (202, 204)
        answers(stack, slug, 404, within=30)


class TestInABrowser:
    def test_chromium_opens_the_tenant_at_its_localhost_name(
        self, stack: ComposeStack, acme: str, browser: Browser
    ) -> None:
        page = browser.new_page()
        try:
            # Read the published port anew (router_url does): the App connecting the router to a
            # tenant's network makes Docker 20.10 publish it again, on another port.
            port = int(stack.router_url.rsplit(":", 1)[1])
            page.goto(f"http://{acme}.localhost:{port}/")
            assert page.locator("h1").inner_text() == f"Platform · Tenant {acme}"
        finally:
            page.close()


# Run as `agent` inside a tenant: tries each target, prints one line per target, "open" or why not.
PROBE = """
import socket, sys
for target in sys.argv[1:]:
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=3) as connection:
            connection.settimeout(3)
            connection.sendall(b"GET /metrics HTTP/1.0\\r\\n\\r\\n")
            answer = connection.recv(64)
            print(target, "open" if answer else "closed-silently")
    except OSError as error:
        print(target, type(error).__name__)
"""
PLATFORM_PYTHON = "/opt/cial-platform/venv/bin/python"


def container_of(engine: docker.DockerClient, label: str) -> Container:
    [container] = engine.containers.list(filters={"label": label})
    return container


def router_rss_kib(router: Container) -> int:
    """Resident memory of the router's Python process (tini is PID 1)."""
    code, output = router.exec_run(["sh", "-c", "grep VmRSS /proc/[0-9]*/status"])
    assert isinstance(output, bytes) and code == 0, output
    return max(int(line.split()[1]) for line in output.decode().splitlines())


def probe_as_agent(tenant: Container, targets: list[str]) -> str:
    code, output = tenant.exec_run([PLATFORM_PYTHON, "-c", PROBE, *targets], user="agent")
    assert isinstance(output, bytes) and code == 0, output
    return output.decode()


def stack_service(engine: docker.DockerClient, stack: ComposeStack, service: str) -> Container:
    labels = [f"com.docker.compose.project={stack.project}", f"com.docker.compose.service={service}"]
    [container] = engine.containers.list(filters={"label": labels})
    return container


def addresses(container: Container) -> list[str]:
    container.reload()
    return [n["IPAddress"] for n in container.attrs["NetworkSettings"]["Networks"].values() if n["IPAddress"]]


class TestOnlyTheRouterReachesATenant:
    def test_agent_code_reaches_neither_postgres_nor_the_app_nor_the_orchestrator_nor_another_tenant(
        self, stack: ComposeStack, owner: httpx.Client, acme: str, engine: docker.DockerClient
    ) -> None:
        beta = new_tenant(owner)
        tenant = container_of(engine, f"cial.slug={acme}")
        other = container_of(engine, f"cial.slug={beta}")
        services = {
            name: stack_service(engine, stack, name) for name in ("postgres", "app-api", "orchestrator")
        }
        targets = [
            "postgres:5432",
            "app-api:3100",
            "orchestrator:8090",  # the holder of the Docker socket
            f"{other.name}:8080",  # the neighbour by its container name, as the router dials it
            *(f"{ip}:5432" for ip in addresses(services["postgres"])),
            *(f"{ip}:3100" for ip in addresses(services["app-api"])),
            *(f"{ip}:8090" for ip in addresses(services["orchestrator"])),
            *(f"{ip}:8080" for ip in addresses(other)),
        ]
        results = dict(line.split(" ", 1) for line in probe_as_agent(tenant, targets).splitlines())
        assert set(results) == set(targets)
        assert not [t for t, result in results.items() if result == "open"], results
        # ... while the router serves both tenants.
        assert f"Platform · Tenant {acme}" in answers(stack, acme, 200).text
        assert f"Platform · Tenant {beta}" in answers(stack, beta, 200).text

    def test_the_routers_control_listener_answers_no_tenant(
        self, stack: ComposeStack, acme: str, engine: docker.DockerClient
    ) -> None:
        tenant = container_of(engine, f"cial.slug={acme}")
        router = stack_service(engine, stack, "router")
        tenant.reload()
        [tenant_network] = tenant.attrs["NetworkSettings"]["Networks"]
        router.reload()
        router_ip = router.attrs["NetworkSettings"]["Networks"][tenant_network]["IPAddress"]
        seen = dict(
            line.split(" ", 1)
            for line in probe_as_agent(tenant, [f"{router_ip}:8081", f"{router_ip}:8080"]).splitlines()
        )
        assert seen[f"{router_ip}:8081"] != "open"
        # The probe can see an open port: the router's public listener is one (the public path).
        assert seen[f"{router_ip}:8080"] == "open"
