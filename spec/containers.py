"""The real parts the specs run against, one class per service, with typed accessors.

Compose (Postgres + the App) is driven directly rather than through pytest-docker: the specs
need a fresh database mid-session, restarts of one service and a port and network of their own,
and it must work with either `docker compose` or Debian's `docker-compose` 1.29.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import docker
import httpx

from testkit.docker_sweep import sweep
from testkit.polling import eventually
from testkit.ports import published_port

ROOT = Path(__file__).resolve().parent.parent
TENANT_IMAGE = os.environ.get("CIAL_TENANT_IMAGE", "cial-tenant:dev")
# The Postgres superuser and database of compose.yml; the App's role is APP_DB_ROLE.
DB_SUPERUSER = "cial"
DB_NAME = "cial"
APP_DB_ROLE = "cial_app"
# The image's init script, which `make local-up` also runs on every start (ci/local-up.sh).
ENSURE_APP_ROLE = "/docker-entrypoint-initdb.d/10-cial-app-role.sh"


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
    router_port: int = 0
    network: str = ""
    # Extra environment for compose's interpolation, e.g. CIAL_TENANT_IMAGE for a stack whose
    # App must not be able to start tenants.
    overrides: dict[str, str] = field(default_factory=dict)
    # Secrets of this stack alone, random like the ones ci/secrets.sh generates (never from git,
    # never a developer's own .local/secrets.env).
    postgres_password: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)
    app_db_password: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)
    sso_secret: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)
    # The first sign-up's token: the App sees the host as Docker's gateway, never as loopback.
    setup_token: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)
    orchestrator_token: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)
    router_token: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)

    def __post_init__(self) -> None:
        self.network = self.network or f"{self.project}-net"
        self._command = compose_command()

    @property
    def env(self) -> dict[str, str]:
        docker_gid = str(os.stat("/var/run/docker.sock").st_gid)
        return {
            **os.environ,
            "CIAL_POSTGRES_PASSWORD": self.postgres_password,
            "CIAL_APP_DB_PASSWORD": self.app_db_password,
            "CIAL_SSO_SECRET": self.sso_secret,
            "CIAL_SETUP_TOKEN": self.setup_token,
            "CIAL_ORCHESTRATOR_TOKEN": self.orchestrator_token,
            "CIAL_ROUTER_TOKEN": self.router_token,
            "CIAL_APP_PORT": "0",
            "CIAL_ROUTER_PORT": "0",
            "CIAL_NETWORK": self.network,
            "CIAL_INSTANCE": self.project,
            "DOCKER_GID": docker_gid,
            # A spec run lasts longer than the default idle time: no tenant of another spec goes
            # idle under it. The idle spec sets its own tenants' idle time through the API.
            "CIAL_IDLE_MINUTES": "never",
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

    @property
    def router_url(self) -> str:
        """The router on loopback; a request names its tenant in the Host header.

        Read anew each time: Docker 20.10 publishes a randomly assigned port again, on another
        port, when a network is connected to the container, and the App connects the router to
        each new tenant's network."""
        self.router_port = self._published_port("router", 8080)
        return f"http://127.0.0.1:{self.router_port}"

    @property
    def postgres_image(self) -> str:
        return self.env.get("CIAL_POSTGRES_IMAGE") or "cial-postgres:dev"

    def up(self) -> None:
        """As `make local-up` does: Postgres first, the App's role ensured, then the App."""
        self.compose("up", "-d", "postgres")
        self.wait_for_postgres()
        self.ensure_app_role()
        self.compose("up", "-d")
        self.wait_for_app()
        self.wait_until_healthy("router")

    def container_id(self, service: str) -> str:
        return self.compose("ps", "-q", service).stdout.strip()

    def wait_for_postgres(self, timeout: float = 120) -> None:
        self.wait_until_healthy("postgres", timeout)

    def wait_until_healthy(self, service: str, timeout: float = 120) -> None:
        """Until the service's own healthcheck passes (the router's: its routes are loaded)."""
        client = docker.from_env()

        def healthy() -> bool:
            state = client.containers.get(self.container_id(service)).attrs["State"]
            return bool(state.get("Health", {}).get("Status") == "healthy")

        try:
            eventually(healthy, timeout=timeout, what=f"{service} to be healthy")
        finally:
            client.close()

    def ensure_app_role(self) -> None:
        self.compose("exec", "-T", "postgres", ENSURE_APP_ROLE)

    def superuser_sql(self, sql: str) -> str:
        """Run SQL as the superuser over Postgres' local socket (administration, no password)."""
        psql = ["psql", "-XtA", "-v", "ON_ERROR_STOP=1", "-U", DB_SUPERUSER, "-d", DB_NAME, "-c", sql]
        return self.compose("exec", "-T", "postgres", *psql).stdout.strip()

    def psql(self, user: str, password: str, sql: str) -> subprocess.CompletedProcess[str]:
        """Run SQL over the stack's network as a client would, logging in as `user` with `password`.

        From a throwaway container of the Postgres image: Postgres publishes no port, and inside
        its own container a loopback connection may be trusted without a password.
        """
        command = [
            "docker", "run", "--rm", "--network", self.network, "--entrypoint", "psql",
            "-e", "PGPASSWORD", "-e", "PGCONNECT_TIMEOUT=10", self.postgres_image,
            "-XtA", "-v", "ON_ERROR_STOP=1", "-h", "postgres", "-U", user, "-d", DB_NAME, "-c", sql,
        ]  # fmt: skip
        return subprocess.run(
            command, env={**os.environ, "PGPASSWORD": password}, capture_output=True, text=True, timeout=60
        )

    def app_environment(self) -> dict[str, str]:
        """The environment of the running app-api container, as the App reads it."""
        client = docker.from_env()
        try:
            pairs = client.containers.get(self.container_id("app-api")).attrs["Config"]["Env"] or []
        finally:
            client.close()
        return dict(pair.split("=", 1) for pair in pairs)

    def app_database_credentials(self) -> tuple[str, str]:
        """The user and password in the App's own DATABASE_URL."""
        url = urlsplit(self.app_environment()["DATABASE_URL"])
        return unquote(url.username or ""), unquote(url.password or "")

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
            self.app_port = self._published_port("app-api", 3100)
            self.router_port = self._published_port("router", 8080)
            return httpx.get(f"{self.app_url}/healthz", timeout=2).status_code == 200

        eventually(healthy, timeout=timeout, what=f"the App of {self.project} to answer /healthz")

    def _published_port(self, service: str, port: int) -> int:
        """The host port Docker gave a service's port (`compose port` says 127.0.0.1:<port>)."""
        published = self.compose("port", service, str(port)).stdout.strip()
        return int(published.rsplit(":", 1)[1])


@dataclass
class PostgresServer:
    """The project's Postgres image alone, published on 127.0.0.1 at a port Docker picks: for
    specs that run the App on the host (in-process or as `python -m cial_app`) on real Postgres.

    The superuser's password is random per server; `database()` makes a fresh database, so each
    test starts empty and Postgres' per-database advisory locks of one test never meet another's.
    """

    instance: str
    image: str = field(default_factory=lambda: os.environ.get("CIAL_POSTGRES_IMAGE") or "cial-postgres:dev")
    password: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)
    port: int = 0

    def start(self) -> None:
        # A port Docker picks, on loopback only (the stubs do not know the one-element tuple).
        loopback: dict[str, Any] = {"5432/tcp": ("127.0.0.1",)}
        client = docker.from_env()
        try:
            self._container = client.containers.run(
                self.image,
                detach=True,
                environment={
                    "POSTGRES_USER": DB_SUPERUSER,
                    "POSTGRES_PASSWORD": self.password,
                    "POSTGRES_DB": DB_NAME,
                },
                ports=loopback,
                labels={"cial.instance": self.instance},
            )
        finally:
            client.close()
        self.port = published_port(self._container, "5432/tcp")
        eventually(self._ready, timeout=120, what=f"Postgres ({self.image}) to accept connections")

    def url(self, database: str = DB_NAME) -> str:
        return f"postgresql://{DB_SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        """A new, empty database; its URL."""
        name = f"t_{secrets.token_hex(6)}"
        self._psql(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        sweep(self.instance)

    def _ready(self) -> bool:
        # Over TCP, as the App connects: the entrypoint's first, socket-only server does not count.
        probe = ["pg_isready", "-q", "-h", "127.0.0.1", "-U", DB_SUPERUSER]
        return bool(self._container.exec_run(probe).exit_code == 0)

    def _psql(self, sql: str) -> str:
        command = [
            "psql", "-XtA", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
            "-U", DB_SUPERUSER, "-d", DB_NAME, "-c", sql,
        ]  # fmt: skip
        result = self._container.exec_run(command, environment={"PGPASSWORD": self.password})
        output = result.output if isinstance(result.output, bytes) else b"".join(result.output)
        if result.exit_code != 0:
            raise RuntimeError(f"{sql}: {output.decode(errors='replace')}")
        return output.decode().strip()

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
