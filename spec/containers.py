"""The real parts the specs run against, one class per service, with typed accessors.

Compose (Postgres + the App) is driven directly rather than through pytest-docker: the specs
need a fresh database mid-session, restarts of one service and a port and network of their own,
and it must work with either `docker compose` or Debian's `docker-compose` 1.29.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from testkit.docker_sweep import sweep
from testkit.polling import eventually

ROOT = Path(__file__).resolve().parent.parent
TENANT_IMAGE = os.environ.get("CIAL_TENANT_IMAGE", "cial-tenant:dev")
# Every `cial.instance` (and compose project) of this run starts with it: the run's sweep removes
# its own leftovers and never those of another run on the same engine.
RUN_INSTANCE_PREFIX = f"spec-{os.getpid()}-"


def spec_instance(name: str) -> str:
    """This run's instance name for `name` (a compose project, a driver's scope, a label)."""
    return f"{RUN_INSTANCE_PREFIX}{name}"


def compose_command() -> str:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return "docker compose"
    if shutil.which("docker-compose"):
        return "docker-compose"
    raise RuntimeError("neither 'docker compose' nor 'docker-compose' is installed")


@dataclass
class ComposeStack:
    """The compose project of the specs: Postgres + the App on a port of its own.

    Docker picks the App's port on 127.0.0.1 (CIAL_APP_PORT=0) and the stack reads it back after
    every start: a port picked here and published later could be taken in between. A restart of
    the App's container gets a new port, so take `app_url` after a restart, not before."""

    project: str
    app_port: int = 0
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
            "CIAL_APP_PORT": "0",
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
        sweep(self.project)
        # Tenant containers the App made sit on the network, so the first `down` could not remove
        # the network, and stopped before the volumes (the database would survive a fresh()).
        self.compose("down", "-v", "--remove-orphans", check=False)

    def fresh(self) -> None:
        self.down()
        self.up()

    def __enter__(self) -> ComposeStack:
        """`with ComposeStack(...) as stack:` a fresh stack, torn down (with its data) at the end."""
        self.fresh()
        return self

    def __exit__(self, *_: object) -> None:
        self.down()

    def restart(self, *services: str) -> None:
        self.compose("restart", *services)
        self.wait_for_app()

    def logs(self, service: str) -> str:
        return self.compose("logs", "--no-color", service, check=False).stdout

    def wait_for_app(self, timeout: float = 120) -> None:
        def healthy() -> bool:
            self.app_port = self._published_app_port()
            return httpx.get(f"{self.app_url}/healthz", timeout=2).status_code == 200

        eventually(healthy, timeout=timeout, what=f"the App of {self.project} to answer /healthz")

    def _published_app_port(self) -> int:
        """The host port Docker gave the App's 3100 (`compose port` says 127.0.0.1:<port>)."""
        published = self.compose("port", "app-api", "3100").stdout.strip()
        return int(published.rsplit(":", 1)[1])
