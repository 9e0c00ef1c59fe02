"""L4 (WebSocket part): Autobahn's cases through a real tenant container's edge, and the tenant
survives every one of them.

The container runs as the orchestrator runs tenants: a 256 MiB memory limit and a restart
policy, so an OOM kill (what case 9.1.6, one 16 MiB message, used to cause) shows as a restart.
The router's spec reuses :func:`spec.autobahn.run_suite` against the router in front of this.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import docker
import httpx
import pytest
from docker.models.containers import Container
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from spec.autobahn import DEFAULT_GROUPS, run_suite
from spec.containers import TENANT_IMAGE
from testkit.polling import eventually

pytestmark = pytest.mark.docker

RUN_LABEL = {"cial.test": "1", "cial.spec": f"l4-websocket-{os.getpid()}"}
ECHO_PATH = "/.cial/api/ws"  # Core back's echo, through the edge
MIB = 1024 * 1024


@dataclass
class Tenant:
    container: Container
    port: int

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def state(self) -> dict[str, Any]:
        self.container.reload()
        attrs: dict[str, Any] = self.container.attrs
        return {
            "restarts": attrs["RestartCount"],
            "oom_killed": attrs["State"]["OOMKilled"],
            "status": attrs["State"]["Status"],
        }


def _sweep(client: docker.DockerClient) -> None:
    label = f"cial.spec={RUN_LABEL['cial.spec']}"
    for container in client.containers.list(all=True, filters={"label": label}):
        container.remove(force=True, v=True)


@pytest.fixture(scope="module")
def tenant() -> Iterator[Tenant]:
    client = docker.from_env()
    try:
        # (host_ip,) means a free port on that address; the SDK's types only know (host_ip, port).
        ports: dict[str, Any] = {"8080/tcp": ("127.0.0.1",)}
        container: Container = client.containers.run(
            TENANT_IMAGE,
            detach=True,
            environment={"TENANT_ID": "0b7c5e1e-0000-4000-8000-0000000004f5", "TENANT_SLUG": "spec-l4-ws"},
            ports=ports,
            labels=RUN_LABEL,
            mem_limit="256m",
            restart_policy={"Name": "on-failure"},
        )

        def published() -> int:
            container.reload()
            bindings = container.attrs["NetworkSettings"]["Ports"].get("8080/tcp")
            return int(bindings[0]["HostPort"]) if bindings else 0

        port = eventually(published, timeout=30, what="port 8080 published")
        eventually(
            lambda: httpx.get(f"http://127.0.0.1:{port}/.cial/api/healthz", timeout=2).status_code == 200,
            timeout=60,
            what="the tenant healthy",
        )
        yield Tenant(container, port)
    finally:
        _sweep(client)
        client.close()


class TestAutobahnThroughTheEdge:
    def test_every_case_of_groups_1_to_7_9_and_10_passes(self, tenant: Tenant) -> None:
        failed = run_suite(tenant.ws_url(ECHO_PATH), include=DEFAULT_GROUPS)
        assert failed == {}

    def test_the_tenant_never_restarted_nor_was_oom_killed(self, tenant: Tenant) -> None:
        assert tenant.state() == {"restarts": 0, "oom_killed": False, "status": "running"}


class TestMessageCap:
    def test_a_message_over_16_mib_is_refused_with_1009_and_the_tenant_lives_on(self, tenant: Tenant) -> None:
        with connect(tenant.ws_url(ECHO_PATH), max_size=None) as ws:
            ws.send("small")
            assert ws.recv(timeout=10) == "small"
            # The edge refuses as the frame header arrives, so the send itself may meet the close.
            with pytest.raises(ConnectionClosed) as closed:
                ws.send(b"x" * (16 * MIB + 1))
                ws.recv(timeout=30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        with connect(tenant.ws_url(ECHO_PATH)) as ws:
            ws.send("again")
            assert ws.recv(timeout=10) == "again"
        assert tenant.state() == {"restarts": 0, "oom_killed": False, "status": "running"}
