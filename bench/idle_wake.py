"""Figures for idle tenants: what waking one costs, what sleeping one frees. Never passes or fails.

    .venv/bin/python bench/idle_wake.py [--runs 10] [--settle 10] [--no-stack]

1. One tenant container of the image (as bench/tenant_image.py runs it), put to sleep and woken
   `--runs` times each way, the two ways interleaved so both see the same noise:
   - stop / start: `docker stop`, then `docker start` -> first 200 on `/` (the platform page,
     through the edge, once every service answers);
   - pause / unpause: `docker pause` (the cgroup freezer), then `docker unpause` -> first 200;
   with the memory `docker stats` counts while running, paused and stopped.
2. The whole path of the feature on a compose stack of its own: a tenant with a 1 s idle time
   goes idle (the router saw no traffic, the App stopped it); then one request through the
   router -> its answer (the router holds it, asks the App, which starts the machine through the
   orchestrator service; the router forwards once the tenant's health path answers). `--runs`
   times; median. Skipped with --no-stack.
3. How many tenants fit in this host's available memory when 90 % of them are idle, computed
   from the figures above (running: the measured container; stopped: 0; paused: as measured).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "platform"), str(ROOT / "proxy"), str(ROOT / "tenant_image")]

import docker  # noqa: E402
import httpx  # noqa: E402

from bench.tenant_image import IMAGE, first_200, memory_mib, published_port, remove_ours, run_tenant  # noqa: E402

MIB = 1024 * 1024


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})"


def available_mib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def container_rounds(client: docker.DockerClient, runs: int, settle: float) -> dict[str, Any]:
    container = run_tenant(client, IMAGE, f"idle-bench-{uuid.uuid4().hex[:6]}")
    try:
        started = time.monotonic()
        port = published_port(container, started + 60)
        first_200(f"http://127.0.0.1:{port}/", started, started + 60)
        time.sleep(settle)
        running = memory_mib(container)
        stop_start: list[float] = []
        pause_unpause: list[float] = []
        paused_mib: list[float] = []
        for _ in range(runs):
            container.stop(timeout=10)
            started = time.monotonic()
            container.start()
            port = published_port(container, started + 60)
            stop_start.append(first_200(f"http://127.0.0.1:{port}/", started, started + 60))
            time.sleep(settle)

            container.pause()
            time.sleep(1)
            paused_mib.append(memory_mib(container))
            started = time.monotonic()
            container.unpause()
            pause_unpause.append(first_200(f"http://127.0.0.1:{port}/", started, started + 60))
            time.sleep(1)
        return {
            "running_mib": running,
            "paused_mib": statistics.median(paused_mib),
            "stop_start": stop_start,
            "pause_unpause": pause_unpause,
        }
    finally:
        container.remove(force=True, v=True)


def stack_rounds(runs: int) -> list[float]:
    from spec.containers import ComposeStack
    from testkit.owner import Owner, signed_in

    stack = ComposeStack(project=f"cialbenchidle{uuid.uuid4().hex[:6]}")
    stack.fresh()
    try:
        owner = signed_in(
            stack.app_url, Owner("Bench Idle", "bench-idle@example.com"), setup_token=stack.setup_token
        )
        slug = f"w{uuid.uuid4().hex[:7]}"
        assert owner.post("/api/admin/tenants", json={"slug": slug, "name": slug}).status_code == 201
        wait_state(owner, slug, "running", 120)
        answer = owner.put(f"/api/admin/tenants/{slug}/idle-time", json={"idle_after_seconds": 1})
        assert answer.status_code == 200, answer.text
        woken: list[float] = []
        for _ in range(runs):
            wait_state(owner, slug, "idle", 60)
            # Read before the clock starts: `router_url` asks compose for the published port
            # (a subprocess, about half a second), which the first figures of this bench counted.
            url = stack.router_url
            started = time.monotonic()
            response = httpx.get(url, headers={"Host": f"{slug}.localhost:8080"}, timeout=120)
            woken.append(time.monotonic() - started)
            assert response.status_code == 200, (response.status_code, response.text[:200])
        return woken
    finally:
        stack.down()


def wait_state(owner: httpx.Client, slug: str, state: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = owner.get(f"/api/admin/tenants/{slug}").json()
        if body["state"] == state:
            return
        if body["state"] == "error":
            raise RuntimeError(f"{slug} is in error: {body['state_reason']}")
        time.sleep(0.1)
    raise TimeoutError(f"{slug} never became {state}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--settle", type=float, default=10.0, help="seconds a woken tenant runs before the next sleep"
    )
    parser.add_argument(
        "--no-stack", action="store_true", help="skip the whole-path figure (no compose stack)"
    )
    args = parser.parse_args(argv)
    client = docker.from_env()
    try:
        rounds = container_rounds(client, args.runs, args.settle)
    finally:
        remove_ours(client)
        client.close()
    running, paused = rounds["running_mib"], rounds["paused_mib"]
    print(f"image {IMAGE}, {args.runs} rounds each way, interleaved")
    print(f"wake by docker start   -> first 200: {spread(rounds['stop_start'])}")
    print(f"wake by docker unpause -> first 200: {spread(rounds['pause_unpause'])}")
    ratio = statistics.median(rounds["stop_start"]) / statistics.median(rounds["pause_unpause"])
    print(f"  start / unpause: {ratio:.1f}x")
    print(f"memory: running {running:.1f} MiB, paused {paused:.1f} MiB, stopped 0 MiB")
    print(f"memory freed per idle tenant: stopped {running:.1f} MiB, paused {running - paused:.1f} MiB")
    if not args.no_stack:
        woken = stack_rounds(args.runs)
        print(f"whole path, idle tenant -> request through the router -> 200: {spread(woken)}")
        ratio = statistics.median(woken) / statistics.median(rounds["stop_start"])
        print(f"  whole path / bare docker start: {ratio:.2f}x")
    available = available_mib()
    for idle_kind, idle_mib in (("stopped", 0.0), ("paused", paused)):
        per_tenant = 0.1 * running + 0.9 * idle_mib
        print(
            f"tenants that fit in {available / 1024:.1f} GiB available with 90 % idle ({idle_kind}): "
            f"{int(available / per_tenant)} (all running: {int(available / running)})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
