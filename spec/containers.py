"""The real parts the specs run against, one class per service, with typed accessors.

Compose (Postgres + the App) is driven directly rather than through pytest-docker: the specs
need a fresh database mid-session, restarts of one service and a port and network of their own,
and it must work with either `docker compose` or Debian's `docker-compose` 1.29.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import docker
import httpx

from spec.polling import wait_until

ROOT = Path(__file__).resolve().parent.parent
TENANT_IMAGE = os.environ.get("CIAL_TENANT_IMAGE", "cial-tenant:dev")


def compose_command() -> str:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return "docker compose"
    if shutil.which("docker-compose"):
        return "docker-compose"
    raise RuntimeError("neither 'docker compose' nor 'docker-compose' is installed")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class ComposeStack:
    """The compose project of the specs: Postgres + the App on a port of its own."""

    project: str
    app_port: int = field(default_factory=free_port)
    network: str = ""
    # Extra environment for compose's interpolation, e.g. CIAL_TENANT_IMAGE for a stack whose
    # App must not be able to start tenants.
    overrides: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.network = self.network or f"{self.project}-net"
        self._command = compose_command()

    @property
    def env(self) -> dict[str, str]:
        docker_gid = str(os.stat("/var/run/docker.sock").st_gid)
        return {
            **os.environ,
            "CIAL_APP_PORT": str(self.app_port),
            "CIAL_NETWORK": self.network,
            "CIAL_INSTANCE": self.project,
            "DOCKER_GID": docker_gid,
            **self.overrides,
        }

    def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [*self._command.split(), "-f", str(ROOT / "compose.yml"), "-p", self.project, *args]
        result = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=300)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    def up(self) -> None:
        self.compose("up", "-d")
        self.wait_for_app()

    def down(self) -> None:
        """Stop everything and forget all data (Postgres volume), and tenant containers of ours."""
        self.compose("down", "-v", "--remove-orphans", check=False)
        remove_tenant_resources(network=self.network)
        # Tenant containers the App made sit on the network, so the first `down` could not remove
        # the network, and stopped before the volumes (the database would survive a fresh()).
        self.compose("down", "-v", "--remove-orphans", check=False)

    def fresh(self) -> None:
        self.down()
        self.up()

    def restart(self, *services: str) -> None:
        self.compose("restart", *services)
        self.wait_for_app()

    def logs(self, service: str) -> str:
        return self.compose("logs", "--no-color", service, check=False).stdout

    def wait_for_app(self, timeout: float = 120) -> None:
        wait_until(
            lambda: httpx.get(f"{self.app_url}/healthz", timeout=2).status_code == 200,
            timeout=timeout,
            what=f"the App on {self.app_url}",
        )


def remove_tenant_resources(*, network: str | None = None) -> None:
    """Remove tenant containers (label cial.tenant) of one network, or all, and their volumes."""
    client = docker.from_env()
    try:
        tenant_ids: set[str] = set()
        for container in client.containers.list(all=True, filters={"label": "cial.tenant"}):
            networks = container.attrs.get("NetworkSettings", {}).get("Networks", {}) or {}
            if network is None or network in networks:
                tenant_ids.add(container.labels["cial.tenant"])
                container.remove(force=True, v=True)
        for volume in client.volumes.list(filters={"label": "cial.tenant"}):
            if network is None or volume.attrs.get("Labels", {}).get("cial.tenant") in tenant_ids:
                volume.remove(force=True)
    finally:
        client.close()
