"""The router's feed: every change of a tenant's state or address made through the App is
announced on Postgres (LISTEN/NOTIFY, channel `cial_tenant_changes`) as it commits.

The listener is a real asyncpg LISTEN on the compose stack's Postgres, run from a container on
the stack's network (Postgres publishes no port), with the App's own database credentials.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from docker.models.containers import Container

from spec.containers import ComposeStack, spec_instance
from testkit.owner import Owner, signed_in

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def stack() -> Iterator[ComposeStack]:
    """A stack of this module's own: its owner signs up on a database nobody else has used."""
    with ComposeStack(project=spec_instance("l4-notify")) as own:
        yield own


# The App image the stack runs (the listener needs only its Python and asyncpg).
APP_IMAGE = os.environ.get("CIAL_APP_IMAGE", "cial-app:dev")
CHANNEL = "cial_tenant_changes"
# Prints one JSON line per notification with the listener's clock, once it listens ("ready").
LISTENER = f"""
import asyncio, json, os, sys, time
import asyncpg

async def main():
    connection = await asyncpg.connect(os.environ["DATABASE_URL"])
    def heard(_conn, _pid, _channel, payload):
        print(json.dumps({{"at": time.time(), "change": json.loads(payload)}}), flush=True)
    await connection.add_listener("{CHANNEL}", heard)
    print("ready", flush=True)
    await asyncio.sleep(120)

asyncio.run(main())
"""


def app_database_url(engine: docker.DockerClient, stack: ComposeStack) -> str:
    labels = [f"com.docker.compose.project={stack.project}", "com.docker.compose.service=app-api"]
    [app] = engine.containers.list(filters={"label": labels})
    env = dict(item.split("=", 1) for item in app.attrs["Config"]["Env"])
    return str(env["DATABASE_URL"])


@pytest.fixture
def listener(engine: docker.DockerClient, stack: ComposeStack) -> Iterator[Container]:
    container = engine.containers.run(
        APP_IMAGE,
        ["python3", "-c", LISTENER],
        detach=True,
        network=stack.network,
        environment={"DATABASE_URL": app_database_url(engine, stack)},
        labels={"cial.spec": "l4-notify"},
    )
    try:
        deadline = time.monotonic() + 30
        while b"ready" not in container.logs():
            assert time.monotonic() < deadline, container.logs().decode(errors="replace")
            time.sleep(0.1)
        yield container
    finally:
        container.remove(force=True)


def heard(container: Container) -> list[dict[str, Any]]:
    lines = container.logs().decode().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def wait_for(container: Container, predicate: Any, what: str, within: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for entry in heard(container):
            if predicate(entry["change"]):
                return entry
        time.sleep(0.1)
    raise AssertionError(f"no notification for {what} within {within:g} s; heard: {heard(container)}")


class TestChangesAreAnnounced:
    def test_each_state_change_made_through_the_api_is_heard_within_a_second(
        self, stack: ComposeStack, listener: Container
    ) -> None:
        nora = Owner("Nora Notify", "notify@example.com")
        client = signed_in(stack.app_url, nora, setup_token=stack.setup_token)
        slug = f"notify-{uuid.uuid4().hex[:6]}"
        asked = time.time()
        response = client.post("/api/admin/tenants", json={"slug": slug, "name": "Notify"})
        assert response.status_code == 201, response.text
        created = wait_for(listener, lambda c: c["slug"] == slug and c["kind"] == "created", "created")
        assert created["at"] - asked < 1.0
        running = wait_for(listener, lambda c: c["slug"] == slug and c["state"] == "running", "running")
        # Only `running` carries the upstream, the address the router will dial.
        assert running["change"]["upstream_host"] and running["change"]["upstream_port"] == 8080

        asked = time.time()
        assert client.post(f"/api/admin/tenants/{slug}/stop").status_code == 202
        stopping = wait_for(listener, lambda c: c["slug"] == slug and c["state"] == "stopping", "stopping")
        assert stopping["at"] - asked < 1.0
        stopped = wait_for(listener, lambda c: c["slug"] == slug and c["state"] == "stopped", "stopped")
        assert stopped["change"]["upstream_host"] is None

        asked = time.time()
        response = client.delete(f"/api/admin/tenants/{slug}")
        assert response.status_code in (202, 204), response.text
        gone = wait_for(listener, lambda c: c["slug"] == slug and c["kind"] == "deleted", "deleted")
        assert gone["at"] - asked < 5.0  # the container and volume go first, then the row
