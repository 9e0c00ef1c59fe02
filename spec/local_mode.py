"""Local mode as a developer runs it: `make local-up` / `make local-down` at a terminal.

On a compose project, instance, network, ports and secrets file of the caller's choosing (the
scripts of ci/ take them from CIAL_PROJECT, CIAL_INSTANCE, ...), so a spec or a bench never
touches the developer's own `cial` stack and its data on the same engine.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

from spec.containers import ROOT


@dataclass
class LocalMode:
    """`make local-up` / `local-down` as typed at a terminal, on this run's own project."""

    project: str
    secrets_file: Path
    app_port: int
    router_port: int

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CIAL_PROJECT": self.project,
            "CIAL_INSTANCE": self.project,
            "CIAL_NETWORK": f"{self.project}-net",
            "CIAL_SECRETS_FILE": str(self.secrets_file),
            "CIAL_APP_PORT": str(self.app_port),
            "CIAL_ROUTER_PORT": str(self.router_port),
        }

    def make(self, *targets: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        # The images the specs run (CIAL_*_IMAGE) are the ones `make` checks and compose starts.
        variables = [
            f"{make_name}={os.environ[env_name]}"
            for make_name, env_name in (
                ("TENANT_IMAGE", "CIAL_TENANT_IMAGE"),
                ("APP_IMAGE", "CIAL_APP_IMAGE"),
            )
            if env_name in os.environ
        ]
        return subprocess.run(
            ["make", "--no-print-directory", "-C", str(ROOT), *targets, *variables],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def must(self, *targets: str) -> str:
        result = self.make(*targets)
        assert result.returncode == 0, f"make {' '.join(targets)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout + result.stderr

    def logs(self, service: str) -> str:
        """The service's log, as `ci/compose.sh logs` prints it (for a failure's message)."""
        command = [str(ROOT / "ci" / "compose.sh"), "logs", "--no-color", "--tail", "200", service]
        result = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=60)
        return result.stdout + result.stderr

    @property
    def setup_token(self) -> str:
        """The first sign-up's token, from the secrets `make local-up` generated."""
        for line in self.secrets_file.read_text().splitlines():
            name, _, value = line.partition("=")
            if name == "CIAL_SETUP_TOKEN" and value:
                return value
        raise AssertionError(f"no CIAL_SETUP_TOKEN in {self.secrets_file}")

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    def via_router(self, slug: str, path: str = "/", method: str = "GET", **headers: str) -> httpx.Response:
        return httpx.request(
            method,
            f"http://127.0.0.1:{self.router_port}{path}",
            headers={"Host": f"{slug}.localhost:{self.router_port}", **headers},
            timeout=10,
            follow_redirects=False,
        )
