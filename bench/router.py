"""Figures for the router and tenant isolation on the compose stack, 20 tenants. Never passes or fails.

    .venv/bin/python bench/router.py [--tenants 20] [--seconds 5]

Prints: create via the API -> first 200 through the router (p50/p95, first half vs second half);
from inside each tenant, as `agent`, how many connection attempts to Postgres, the App and the
next tenant (by name and by address) succeeded (the design says none); `/` throughput through
router + edge beside the same tenant's published port (edge alone), at 1 and 16 connections; how
long the router takes to answer 503 after a stop and 200 after the start (the change feed); the
router's memory with every tenant network attached; and the arithmetic for 250 tenants.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "platform"), str(ROOT / "proxy"), str(ROOT / "tenant_image")]

import docker  # noqa: E402
import httpx  # noqa: E402

from bench.proxy import ensure_tools, wrk  # noqa: E402
from spec.containers import ComposeStack  # noqa: E402
from testkit.owner import Owner, signed_in  # noqa: E402

PROBE = """
import socket, sys
opened = 0
for target in sys.argv[1:]:
    host, _, port = target.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        opened += 1
    except OSError:
        pass
print(opened)
"""
POOL = "10.213.0.0/16"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def until(check: object, timeout: float) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            if check():  # type: ignore[operator]
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise TimeoutError("gave up waiting")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    ensure_tools()
    stack = ComposeStack(project=f"cialbenchrouter{os.getpid()}")
    engine = docker.from_env()
    stack.fresh()
    try:
        owner = signed_in(
            stack.app_url, Owner("Bench Router", "bench-router@example.com"), setup_token=stack.setup_token
        )
        slugs: list[str] = []
        times: list[float] = []
        for _ in range(args.tenants):
            slug = f"b{uuid.uuid4().hex[:7]}"
            started = time.perf_counter()
            assert owner.post("/api/admin/tenants", json={"slug": slug, "name": slug}).status_code == 201
            host = {"Host": f"{slug}.localhost:8080"}
            until(lambda h=host: httpx.get(stack.router_url, headers=h, timeout=5).status_code == 200, 120)
            times.append(time.perf_counter() - started)
            slugs.append(slug)
        half = len(times) // 2
        print(
            f"create via API -> first 200 through the router ({len(times)} tenants): "
            f"p50 {statistics.median(times):.2f} s, p95 {percentile(times, 0.95):.2f} s; "
            f"median of the second half / first half = "
            f"{statistics.median(times[half:]) / statistics.median(times[:half]):.2f}x",
            flush=True,
        )

        containers = {s: engine.containers.list(filters={"label": f"cial.slug={s}"})[0] for s in slugs}

        def service(name: str) -> list[str]:
            labels = [f"com.docker.compose.project={stack.project}", f"com.docker.compose.service={name}"]
            [found] = engine.containers.list(filters={"label": labels})
            return [n["IPAddress"] for n in found.attrs["NetworkSettings"]["Networks"].values()]

        forbidden_static = ["postgres:5432", "app-api:3100"]
        forbidden_static += [f"{ip}:5432" for ip in service("postgres")]
        forbidden_static += [f"{ip}:3100" for ip in service("app-api")]
        attempts = opened = 0
        for index, slug in enumerate(slugs):
            neighbour = containers[slugs[(index + 1) % len(slugs)]]
            neighbour_ips = [n["IPAddress"] for n in neighbour.attrs["NetworkSettings"]["Networks"].values()]
            targets = [*forbidden_static, f"{neighbour.name}:8080", *(f"{ip}:8080" for ip in neighbour_ips)]
            code, output = containers[slug].exec_run(
                ["/opt/cial-platform/venv/bin/python", "-c", PROBE, *targets], user="agent"
            )
            assert isinstance(output, bytes) and code == 0, output
            attempts += len(targets)
            opened += int(output.decode().strip())
        print(
            f"isolation: {opened} of {attempts} connection attempts from inside {len(slugs)} tenants "
            "(as agent, to Postgres, the App and a neighbour, by name and by address) succeeded",
            flush=True,
        )

        first = slugs[0]
        published = owner.get(f"/api/admin/tenants/{first}").json()["published_port"]
        for connections in (1, 16):
            through = wrk(stack.router_url + "/", connections, args.seconds, host=f"{first}.localhost:8080")
            direct = wrk(f"http://127.0.0.1:{published}/", connections, args.seconds)
            print(
                f"/ at c{connections}: router+edge {through.requests_per_second:,.0f} req/s "
                f"(p50 {through.p50_ms:.2f} ms), edge alone {direct.requests_per_second:,.0f} req/s "
                f"(p50 {direct.p50_ms:.2f} ms); "
                f"ratio {through.requests_per_second / direct.requests_per_second:.2f}",
                flush=True,
            )

        stops, starts = [], []
        for slug in slugs[:5]:
            host = {"Host": f"{slug}.localhost:8080"}
            owner.post(f"/api/admin/tenants/{slug}/stop")
            stops.append(until(lambda h=host: httpx.get(stack.router_url, headers=h).status_code == 503, 10))
            # The router answers 503 from `stopping` on; start is refused until `stopped`.
            until(lambda s=slug: owner.get(f"/api/admin/tenants/{s}").json()["state"] == "stopped", 60)
            started = time.perf_counter()
            accepted = owner.post(f"/api/admin/tenants/{slug}/start")
            assert accepted.status_code == 202, accepted.text
            until(lambda h=host: httpx.get(stack.router_url, headers=h).status_code == 200, 60)
            starts.append(time.perf_counter() - started)
        print(
            f"stop -> router answers 503: median {statistics.median(stops) * 1000:.0f} ms (n=5); "
            f"start -> 200 through the router: median {statistics.median(starts):.2f} s",
            flush=True,
        )

        labels = [f"com.docker.compose.project={stack.project}", "com.docker.compose.service=router"]
        [router] = engine.containers.list(filters={"label": labels})
        code, output = router.exec_run(["sh", "-c", "grep VmRSS /proc/[0-9]*/status"])
        assert isinstance(output, bytes) and code == 0, output
        rss = max(int(line.split()[1]) for line in output.decode().splitlines())
        networks = len(router.attrs["NetworkSettings"]["Networks"])
        print(f"router: {networks} networks attached, RSS {rss / 1024:.1f} MiB", flush=True)

        pool = ipaddress.ip_network(POOL)
        print(
            f"on paper: pool {POOL} holds {2 ** (29 - pool.prefixlen):,} tenant /29s; 250 tenants use "
            f"{250 * 8:,} of its {pool.num_addresses:,} addresses and give the router 251 interfaces",
            flush=True,
        )
    finally:
        stack.down()
        engine.close()


if __name__ == "__main__":
    main()
