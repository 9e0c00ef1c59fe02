"""The platform process under the real supervisor: the front serves, the back is forked from it,
each has its own output stream, and the back's death takes the front down with it."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import httpx
import pytest
from cial_core.services import Service, agent_environment

from testkit.polling import eventually
from tests.tenant_image.supervising import Run, start

ROOT = Path(__file__).resolve().parents[2]
FRONT, BACK = "http://127.0.0.1:3000", "http://127.0.0.1:3001"


def answering(url: str) -> bool:
    try:
        httpx.get(url, timeout=0.5)
    except httpx.TransportError:
        return False
    return True


@pytest.fixture
def platform(running: list[Run]) -> Run:
    if answering(FRONT) or answering(BACK):
        pytest.skip("ports 3000/3001 are in use on this machine")
    service = Service(
        name="platform-front",
        argv=(sys.executable, "-u", "-m", "cial_platform"),
        user=None,
        env={
            **agent_environment({"PATH": os.environ["PATH"], "TENANT_SLUG": "launch"}),
            "PYTHONPATH": str(ROOT / "tenant_image"),
        },
        extra_outputs=("platform-back",),
    )
    return start(running, [service])


def wait_for(url: str, within: float = 20) -> httpx.Response:
    """The first answer of `url` (any status), once something listens there."""
    return eventually(
        lambda: httpx.get(url, timeout=1), timeout=within, interval=0.05, what=f"{url} to answer"
    )


def front_pid(run: Run) -> int:
    return int(run.text.split("started platform-front (pid ")[1].split(")")[0])


def back_pid(run: Run) -> int:
    """The process named platform-back whose parent is this run's front."""
    front = front_pid(run)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm, open(f"/proc/{entry}/status") as status:
                    name = comm.read().strip()
                    parent = next(int(line.split()[1]) for line in status if line.startswith("PPid:"))
            except OSError:
                continue
            if name == "platform-back" and parent == front:
                return int(entry)
    raise AssertionError(f"no platform-back under {front}")


class TestPlatformProcess:
    def test_front_and_back_both_serve(self, platform: Run) -> None:
        assert "Platform · Tenant launch" in wait_for(f"{FRONT}/").text
        assert wait_for(f"{BACK}/health").json()["service"] == "platform-back"

    def test_each_writes_to_its_own_stream(self, platform: Run) -> None:
        wait_for(f"{BACK}/health")
        wait_for(f"{FRONT}/")
        platform.until_output("platform-back  | INFO uvicorn.error: Uvicorn running on http://127.0.0.1:3001")
        platform.until_output("platform-front | INFO uvicorn.error: Uvicorn running on http://127.0.0.1:3000")

    def test_each_names_its_process(self, platform: Run) -> None:
        wait_for(f"{BACK}/health")
        with open(f"/proc/{front_pid(platform)}/comm") as comm:
            assert comm.read().strip() == "platform-front"
        assert back_pid(platform)

    def test_when_the_back_dies_the_front_exits_non_zero(self, platform: Run) -> None:
        wait_for(f"{BACK}/health")
        os.kill(back_pid(platform), signal.SIGKILL)
        assert platform.result() == 1
        assert "platform-back died (signal SIGKILL); stopping platform-front too" in platform.text
        assert "platform-front died (exit code 1)" in platform.text

    def test_a_stop_ends_both(self, platform: Run) -> None:
        wait_for(f"{BACK}/health")
        back = back_pid(platform)
        platform.stop()
        assert platform.result() == 0
        assert not os.path.exists(f"/proc/{back}"), "the front exited before its back"
        assert not answering(BACK)
