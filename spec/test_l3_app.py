"""L3, part 2: the App drives the orchestrator. Against compose.yml (real Postgres, the App, the
orchestrator service holding the Docker socket, the real tenant image) and a real headless Chromium.

The plan's check: a tenant created in the admin shows `running` with a port without a reload,
`docker ps` shows its container, and its port serves the tenant's page. Besides: stop/start keeps
the volume's data, delete removes container and volume, `docker rm -f` behind the App's back is
repaired, killing the App mid-provisioning leaves one container that ends `running`, a tenant
whose row is wiped is quarantined with its data and restored (an orphan is stopped and kept,
another App's is never touched), a bad image name ends in `error` with its reason, and
an unreachable engine puts tenants in `error` and they recover when it is back.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
import pytest
from playwright.sync_api import Browser, expect

from spec.app_client import signed_in_page
from spec.app_process import stop_process
from spec.containers import ROOT, TENANT_IMAGE, ComposeStack, spec_instance
from spec.socket_relay import SocketRelay
from testkit.docker_sweep import containers_of, sweep, volumes_of
from testkit.owner import Owner, create, signed_in, tenant
from testkit.polling import GiveUp, eventually
from testkit.ports import released_port

pytestmark = pytest.mark.docker

OWNER = Owner(name="Lin Owner", email="lin@example.com")
# Create -> running on this machine takes a few seconds; the deadline leaves room for a slow disk.
UP = 90.0
# The App's reconciler runs every 5 s in compose.
REPAIR = 60.0
BRINGING_UP = {"provisioning", "starting"}


# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def app(stack: ComposeStack, engine: docker.DockerClient) -> ComposeStack:
    stack.fresh()
    signed_in(stack.app_url, OWNER, setup_token=stack.setup_token).close()
    return stack


@pytest.fixture
def api(app: ComposeStack) -> Iterator[httpx.Client]:
    client = signed_in(app.app_url, OWNER, setup_token=app.setup_token)
    yield client
    client.close()


@pytest.fixture
def shown(api: httpx.Client) -> str:
    """A running tenant of the module's App, made by whichever test needs it first (any order)."""
    if api.get("/api/admin/tenants/shown").status_code == 404:
        create(api, "shown")
    until_state(api, "shown", "running")
    return "shown"


# ------------------------------------------------------------------------------------- helpers


def until_state(
    api: httpx.Client, slug: str, state: str, *, timeout: float = UP, recovering: bool = False
) -> dict[str, Any]:
    """Poll the tenant until it is in `state`; fail early, with its reason, if it lands in error
    (unless it is `recovering` from an error, when error is where the wait starts)."""

    def probe() -> dict[str, Any]:
        seen = tenant(api, slug)
        if seen["state"] == "error" and state != "error" and not recovering:
            raise GiveUp(f"tenant {slug} went to error: {seen['state_reason']}")
        assert seen["state"] == state, f"{slug} is {seen['state']} ({seen['state_reason']})"
        return seen

    return eventually(probe, timeout=timeout, what=f"tenant {slug} to be {state}")


def page_of(port: int) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}/", timeout=5)


def visit(port: int) -> int:
    response = httpx.post(f"http://127.0.0.1:{port}/.cial/api/visits", timeout=5)
    response.raise_for_status()
    count: int = response.json()["visits"]
    return count


def app_container(stack: ComposeStack, engine: docker.DockerClient) -> Any:
    [container] = engine.containers.list(
        all=True,
        filters={
            "label": [f"com.docker.compose.project={stack.project}", "com.docker.compose.service=app-api"]
        },
    )
    return container


# --------------------------------------------------------------------------------------- specs


class TestTheAdminCreatesARealTenant:
    def test_a_tenant_created_in_the_ui_shows_running_with_a_port_without_a_reload(
        self, app: ComposeStack, browser: Browser, engine: docker.DockerClient, api: httpx.Client
    ) -> None:
        page = signed_in_page(browser, app.app_url, OWNER)
        page.get_by_label("Slug").fill("acme")
        page.get_by_label("Name").fill("Acme Inc.")
        page.get_by_role("button", name="Create tenant").click()
        row = page.locator('#tenants tr[data-slug="acme"]')
        expect(row).to_be_visible()
        assert row.locator(".state").inner_text().strip() in BRINGING_UP | {"running"}
        page.evaluate("window.__notReloaded = true")  # gone if the page reloads

        expect(row.locator(".state")).to_have_text("running", timeout=UP * 1000)
        port_text = row.locator(".port").inner_text().strip()
        assert port_text.isdigit(), port_text
        assert page.evaluate("window.__notReloaded") is True
        page.close()

        port = int(port_text)
        body = tenant(api, "acme")
        assert body["published_port"] == port
        # docker ps: the container, running, with its labels and the port on 127.0.0.1 only.
        [container] = engine.containers.list(filters={"label": f"cial.tenant={body['id']}"})
        assert container.id == body["machine_id"]
        # The stack's instance is not the developer's `local`: its names carry the instance's suffix.
        assert re.fullmatch(r"cial-tenant-acme-[0-9a-f]{6}", str(container.name)), container.name
        assert container.labels["cial.slug"] == "acme"
        assert container.labels["cial.instance"] == app.project
        assert container.attrs["NetworkSettings"]["Ports"]["8080/tcp"] == [
            {"HostIp": "127.0.0.1", "HostPort": str(port)}
        ]
        # Its own network (L4), which the router joins; not the App's and Postgres' network.
        networks = container.attrs["NetworkSettings"]["Networks"]
        assert list(networks) == [f"cial-net-{body['id']}"]
        host = container.attrs["HostConfig"]
        assert "no-new-privileges:true" in host["SecurityOpt"]
        assert host["Memory"] > 0 and host["NanoCpus"] > 0 and host["PidsLimit"] > 0
        # curl localhost:<port>: the tenant's own page (L0).
        response = page_of(port)
        assert response.status_code == 200
        assert "Platform · Tenant acme" in response.text

    def test_the_tenant_history_shows_each_step_of_provisioning(
        self, app: ComposeStack, api: httpx.Client, shown: str
    ) -> None:
        events = api.get(f"/api/admin/tenants/{shown}/events").json()
        assert [(e["from_state"], e["to_state"]) for e in reversed(events)][:3] == [
            (None, "provisioning"),
            ("provisioning", "starting"),
            ("starting", "running"),
        ]

    def test_the_tenant_page_shows_its_log_lines(
        self, app: ComposeStack, browser: Browser, api: httpx.Client, shown: str
    ) -> None:
        page = signed_in_page(browser, app.app_url, OWNER)
        page.goto(f"{app.app_url}/admin/tenants/{shown}")
        expect(page.locator("#logs")).not_to_be_empty()
        for label in ("Start", "Stop", "Restart", "Delete"):
            expect(page.get_by_role("button", name=label, exact=True)).to_be_visible()
        page.close()


class TestStopAndStart:
    def test_stop_then_start_keeps_the_volume_data(
        self, app: ComposeStack, api: httpx.Client, engine: docker.DockerClient
    ) -> None:
        create(api, "keeper")
        body = until_state(api, "keeper", "running")
        assert [visit(body["published_port"]) for _ in range(2)] == [1, 2]

        assert api.post("/api/admin/tenants/keeper/stop").status_code == 202
        stopped = until_state(api, "keeper", "stopped")
        assert stopped["published_port"] is None
        [container] = containers_of(engine, body["id"])
        assert container.status == "exited"
        # A second stop is a no-op.
        assert api.post("/api/admin/tenants/keeper/stop").status_code == 200

        assert api.post("/api/admin/tenants/keeper/start").status_code == 202
        started = until_state(api, "keeper", "running")
        assert started["machine_id"] == body["machine_id"]
        assert visit(started["published_port"]) == 3

    def test_stopped_in_the_browser_it_stays_stopped_even_if_started_behind_the_apps_back(
        self, app: ComposeStack, browser: Browser, api: httpx.Client, engine: docker.DockerClient
    ) -> None:
        create(api, "sleepy")
        body = until_state(api, "sleepy", "running")
        page = signed_in_page(browser, app.app_url, OWNER)
        page.goto(f"{app.app_url}/admin/tenants/sleepy")
        page.get_by_role("button", name="Stop", exact=True).click()
        expect(page.locator("#state")).to_have_text("stopped", timeout=UP * 1000)
        page.close()
        assert tenant(api, "sleepy")["desired_state"] == "stopped"

        [container] = containers_of(engine, body["id"])
        container.start()  # docker start, behind the App's back
        eventually(
            lambda: engine.containers.get(container.id).status == "exited",
            timeout=REPAIR,
            what="the App to stop the container again",
        )
        assert until_state(api, "sleepy", "stopped")["desired_state"] == "stopped"
        reasons = [e["reason"] for e in api.get("/api/admin/tenants/sleepy/events").json()]
        assert any("though the owner wants it stopped" in reason for reason in reasons)


class TestDelete:
    def test_delete_removes_the_container_and_the_volume(
        self, app: ComposeStack, api: httpx.Client, engine: docker.DockerClient
    ) -> None:
        create(api, "doomed")
        body = until_state(api, "doomed", "running")
        assert len(volumes_of(engine, body["id"])) == 1
        response = api.delete("/api/admin/tenants/doomed")
        assert response.status_code == 204
        assert containers_of(engine, body["id"]) == []
        assert volumes_of(engine, body["id"]) == []
        assert api.get("/api/admin/tenants/doomed").status_code == 404
        assert api.delete("/api/admin/tenants/doomed").status_code == 404


class TestRepairs:
    def test_docker_rm_f_behind_the_apps_back_is_repaired(
        self, app: ComposeStack, api: httpx.Client, engine: docker.DockerClient
    ) -> None:
        create(api, "phoenix")
        body = until_state(api, "phoenix", "running")
        visit(body["published_port"])
        engine.containers.get(body["machine_id"]).remove(force=True)

        def repaired() -> dict[str, Any] | None:
            now = tenant(api, "phoenix")
            return now if now["state"] == "running" and now["machine_id"] != body["machine_id"] else None

        after = eventually(repaired, timeout=REPAIR, what="the removed container to be re-created")
        [container] = containers_of(engine, body["id"])
        assert container.id == after["machine_id"]
        # The volume outlived the container: the count goes on.
        assert visit(after["published_port"]) == 2
        reasons = [e["reason"] for e in api.get("/api/admin/tenants/phoenix/events").json()]
        assert any("removed outside the App" in reason for reason in reasons)

    def test_a_tenant_whose_row_is_wiped_is_quarantined_with_its_data_and_restored(
        self, app: ComposeStack, api: httpx.Client, engine: docker.DockerClient
    ) -> None:
        # What an empty, restored or wrong database looks like to the reconciler: a container and
        # a volume labelled for a tenant id that no row has. Removing them would lose the data.
        create(api, "amnesia")
        body = until_state(api, "amnesia", "running")
        assert [visit(body["published_port"]) for _ in range(2)] == [1, 2]
        app.superuser_sql(
            f"DELETE FROM tenant_events WHERE tenant_id = '{body['id']}'; "
            f"DELETE FROM tenants WHERE id = '{body['id']}';"
        )
        eventually(
            lambda: [c.status for c in containers_of(engine, body["id"])] == ["exited"],
            timeout=REPAIR,
            what="the container of the tenant with no row to be stopped",
        )
        [listed] = [q for q in api.get("/api/admin/quarantine").json() if q["tenant_id"] == body["id"]]
        assert listed["slug"] == "amnesia"
        assert len(volumes_of(engine, body["id"])) == 1

        assert api.post(f"/api/admin/quarantine/{body['id']}/restore").status_code == 201
        back = until_state(api, "amnesia", "running")
        assert back["id"] == body["id"]
        assert visit(back["published_port"]) == 3  # the same volume: nothing was lost

    def test_an_orphan_of_this_app_is_stopped_and_kept_and_another_apps_is_never_touched(
        self, app: ComposeStack, api: httpx.Client, engine: docker.DockerClient
    ) -> None:
        orphan, foreign = str(uuid.uuid4()), str(uuid.uuid4())
        ours = {"cial.tenant": orphan, "cial.slug": "ghost", "cial.instance": app.project}
        theirs = {"cial.tenant": foreign, "cial.slug": "elsewhere", "cial.instance": f"{app.project}-other"}
        made: list[Any] = []
        try:
            for labels in (theirs, ours):
                volume = engine.volumes.create(
                    name=f"cial-tenant-{labels['cial.tenant']}-data", labels=labels
                )
                made.append(volume)
                made.append(
                    engine.containers.run(
                        "cial-base:bookworm",
                        ["sleep", "infinity"],
                        detach=True,
                        labels=labels,
                        volumes={volume.name: {"bind": "/data", "mode": "rw"}},
                    )
                )
            # Ours stopped means a reconcile round has seen both.
            eventually(
                lambda: [c.status for c in containers_of(engine, orphan)] == ["exited"],
                timeout=REPAIR,
                what="the orphan container to be stopped",
            )
            assert len(volumes_of(engine, orphan)) == 1
            [container] = containers_of(engine, foreign)
            assert container.status == "running"
            assert len(volumes_of(engine, foreign)) == 1
            quarantined = {q["tenant_id"] for q in api.get("/api/admin/quarantine").json()}
            assert orphan in quarantined and foreign not in quarantined
        finally:
            for thing in reversed(made):
                with contextlib.suppress(docker.errors.NotFound):
                    thing.remove(force=True)

    def test_killing_the_app_mid_provisioning_leaves_one_container_that_ends_running(
        self, app: ComposeStack, api: httpx.Client, engine: docker.DockerClient
    ) -> None:
        body = create(api, "lazarus")
        # As soon as the App has made the container, and before it answered its health check.
        eventually(lambda: containers_of(engine, body["id"]), timeout=UP, what="the tenant's container")
        caught = tenant(api, "lazarus")["state"]
        app_container(app, engine).kill()
        app.compose("start", "app-api")
        app.wait_for_app()

        with contextlib.closing(signed_in(app.app_url, OWNER, setup_token=app.setup_token)) as again:
            after = until_state(again, "lazarus", "running")
        assert len(containers_of(engine, body["id"])) == 1
        assert len(volumes_of(engine, body["id"])) == 1
        assert page_of(after["published_port"]).status_code == 200
        print(f"\nApp killed while the tenant was {caught}")


class TestBadImage:
    def test_a_bad_image_name_ends_in_error_with_its_reason(self, engine: docker.DockerClient) -> None:
        broken = ComposeStack(
            project=spec_instance("img"), overrides={"CIAL_TENANT_IMAGE": "cial-tenant:no-such-tag"}
        )
        broken.fresh()
        try:
            with contextlib.closing(signed_in(broken.app_url, OWNER, setup_token=broken.setup_token)) as api:
                body = create(api, "broken")
                failed = until_state(api, "broken", "error")
                assert "cial-tenant:no-such-tag" in failed["state_reason"]
                assert "not found" in failed["state_reason"]
                assert containers_of(engine, body["id"]) == []
                # The API still answers, and the admin shows the reason.
                listing = api.get("/admin").text
                assert "cial-tenant:no-such-tag" in listing
        finally:
            broken.down()


# ---------------------------------------------------------------------- Docker unreachable


class HostApp:
    """The App as a process on the host (SQLite, tenants on published ports), talking to Docker
    through a relay this spec can cut: `docker` stays up for every other App on the machine."""

    def __init__(self, workdir: Path, docker_host: str) -> None:
        # `python -m cial_app` takes CIAL_APP_PORT >= 1 and does not say which port it bound.
        self.port = released_port()
        self.instance = spec_instance(f"l3-host-{uuid.uuid4().hex[:8]}")
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "app.log"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("platform", "proxy")),
            "CIAL_SQLITE_PATH": str(workdir / "app.sqlite3"),
            "CIAL_APP_HOST": "127.0.0.1",
            "CIAL_APP_PORT": str(self.port),
            "CIAL_INSTANCE": self.instance,
            "CIAL_TENANT_IMAGE": TENANT_IMAGE,
            "CIAL_RECONCILE_INTERVAL_SECONDS": "1",
            "DOCKER_HOST": docker_host,
        }
        for name in ("DATABASE_URL", "CIAL_DOCKER_NETWORK", "CIAL_TENANT_HEALTH_VIA"):
            env.pop(name, None)
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cial_app"], env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT
            )
        eventually(
            lambda: httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200,
            timeout=60,
            what="the App on the host",
        )

    def stop(self) -> None:
        stop_process(self.process)

    def remove_tenants(self, engine: docker.DockerClient) -> None:
        sweep(self.instance, client=engine)


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[SocketRelay]:
    relay = SocketRelay(tmp_path / "docker.sock")
    relay.restore()
    try:
        yield relay
    finally:
        relay.close()


@pytest.fixture
def host_app(tmp_path: Path, relay: SocketRelay, engine: docker.DockerClient) -> Iterator[HostApp]:
    app = HostApp(tmp_path, relay.url)
    try:
        yield app
    finally:
        app.stop()
        app.remove_tenants(engine)


class TestDockerUnreachable:
    def test_tenants_go_to_error_with_the_reason_and_recover_when_docker_is_back(
        self, host_app: HostApp, relay: SocketRelay, engine: docker.DockerClient
    ) -> None:
        with contextlib.closing(signed_in(host_app.url, OWNER)) as api:
            create(api, "steady")
            body = until_state(api, "steady", "running")
            assert visit(body["published_port"]) == 1

            relay.cut()
            down = until_state(api, "steady", "error", timeout=REPAIR)
            assert "unreachable" in down["state_reason"] and "Docker" in down["state_reason"]
            # The App still answers; creating a tenant is accepted and fails with the same reason.
            assert api.get("/api/admin/tenants").status_code == 200
            create(api, "patient")
            assert "unreachable" in until_state(api, "patient", "error", timeout=REPAIR)["state_reason"]

            relay.restore()
            back = until_state(api, "steady", "running", timeout=REPAIR, recovering=True)
            until_state(api, "patient", "running", timeout=REPAIR, recovering=True)
        # Nothing was lost: the same container and its data.
        assert back["machine_id"] == body["machine_id"]
        assert visit(back["published_port"]) == 2
        log = host_app.log.read_text()
        assert log.count("container engine unreachable") == 1, log[-3000:]
