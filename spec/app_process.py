"""The App as a process on the host (`python -m cial_app`) on a database the spec gives it, tenants
in memory: for specs about the App and its database, not Docker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from spec.containers import ROOT
from testkit.ports import released_port


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as a user's Ctrl-C or a service manager would stop an App; SIGKILL after 30 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


class AppProcess:
    """`python -m cial_app` on `database_url`, its output in a file."""

    def __init__(self, workdir: Path, database_url: str, name: str, **extra: str) -> None:
        self.name = name
        self.port = released_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"{name}.log"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("platform", "proxy")),
            "DATABASE_URL": database_url,
            "CIAL_APP_HOST": "127.0.0.1",
            "CIAL_APP_PORT": str(self.port),
            "CIAL_INSTANCE": name,
            "CIAL_ORCHESTRATOR": "memory",
            "CIAL_SOLE_APP_WAIT_SECONDS": "2",
            **extra,
        }
        # Appended: the same name again (a restart) keeps the earlier run's output above.
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cial_app"], env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT
            )

    def serving(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def ended(self) -> bool:
        return self.process.poll() is not None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.process)
