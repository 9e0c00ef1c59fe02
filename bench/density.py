"""How many tenants one machine holds: N tenants through the App, then one more. Never passes or fails.

    .venv/bin/python bench/density.py [--tenants 100] [--seconds 10]

On a compose stack of its own (Postgres, App, router), creates `--tenants` tenants through the
App's API, a few at a time as an owner clicking fast would, and prints:
- the time until all are `running` (and how many failed, with their reasons);
- memory per tenant (median and max, as `docker stats` counts it) and in total, beside the host's
  available memory before and after, and the stack's own services;
- the router's throughput across all of them (wrk with a Lua script that spreads the requests
  over every tenant's Host, so each request goes to another tenant), beside the same at one tenant;
- the first-200 time of the next tenant, created once the others run (does density slow a start?).
If something runs out first (memory, the subnet pool, the engine), the error says which.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import docker  # noqa: E402
import httpx  # noqa: E402

from bench.proxy import ensure_tools, wrk  # noqa: E402
from bench.router import until  # noqa: E402
from spec.containers import ComposeStack  # noqa: E402
from testkit.owner import Owner, signed_in  # noqa: E402

MIB = 1024 * 1024
IN_FLIGHT = 4  # creations at once
SLOW_ANSWERS: list[str] = []  # polls of the App that timed out (30 s) while tenants were created


def available_mib() -> float:
    with open("/proc/meminfo") as meminfo:
        fields = dict(line.split(":", 1) for line in meminfo)
    return int(fields["MemAvailable"].split()[0]) / 1024


def stats_mib(names: list[str]) -> dict[str, float]:
    """Memory as `docker stats` shows it (usage minus inactive page cache), one call for all."""
    if not names:
        return {}
    output = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}", *names],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    units = {"B": 1 / MIB, "KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0}
    found = {}
    for line in output.splitlines():
        name, usage = line.split("\t")
        amount = usage.split("/")[0].strip()
        number = amount.rstrip("KMGiB")
        found[name] = float(number) * units[amount[len(number) :]]
    return found


def wait_running(owner: httpx.Client, slug: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            body: dict[str, Any] = owner.get(f"/api/admin/tenants/{slug}").json()
        except httpx.TimeoutException:  # the App too busy to answer: itself a finding, counted
            SLOW_ANSWERS.append(slug)
            continue
        if body["state"] in ("running", "error"):
            return body
        time.sleep(0.25)
    return {"state": "timeout", "state_reason": f"not running after {timeout:.0f} s"}


def spread_script(slugs: list[str], directory: Path) -> Path:
    """A wrk Lua script whose requests go round the tenants, one Host after another."""
    hosts = ", ".join(f'"{slug}.localhost:8080"' for slug in slugs)
    script = directory / "spread.lua"
    script.write_text(
        f"local hosts = {{{hosts}}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #hosts + 1\n"
        '  return wrk.format("GET", "/", {["Host"] = hosts[i]})\n'
        "end\n"
    )
    return script


def wrk_spread(url: str, script: Path, connections: int, seconds: float) -> tuple[float, float]:
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{round(seconds)}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    rate = next(float(line.split()[1]) for line in output.splitlines() if line.startswith("Requests/sec:"))
    p50 = next(line.split()[1] for line in output.splitlines() if line.strip().startswith("50%"))
    return rate, p50_ms(p50)


def p50_ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    raise ValueError(text)


def create(owner: httpx.Client, slug: str) -> float:
    started = time.perf_counter()
    response = owner.post("/api/admin/tenants", json={"slug": slug, "name": slug})
    if response.status_code != 201:
        raise RuntimeError(f"create {slug}: {response.status_code} {response.text}")
    return started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    ensure_tools()
    before_mib = available_mib()
    stack = ComposeStack(project=f"cialbenchdensity{os.getpid()}")
    engine = docker.from_env()
    stack.fresh()
    try:
        owner = signed_in(
            stack.app_url, Owner("Bench Density", "bench-density@example.com"), setup_token=stack.setup_token
        )
        slugs = [f"d{index:03d}{uuid.uuid4().hex[:4]}" for index in range(args.tenants)]
        started = time.perf_counter()

        def one(slug: str) -> tuple[str, dict[str, Any]]:
            create(owner, slug)
            return slug, wait_running(owner, slug)

        with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
            results = dict(pool.map(one, slugs))
        all_running = time.perf_counter() - started
        failed = {slug: body for slug, body in results.items() if body["state"] != "running"}
        print(
            f"{args.tenants} tenants created through the App, {IN_FLIGHT} at a time: all settled in "
            f"{all_running:.1f} s ({all_running / args.tenants:.2f} s per tenant); "
            f"{len(failed)} not running; {len(SLOW_ANSWERS)} polls of the App timed out (30 s); "
            f"load average now {os.getloadavg()[0]:.0f}",
            flush=True,
        )
        for slug, body in list(failed.items())[:5]:
            print(f"  ! {slug}: {body['state']}: {body.get('state_reason')}", flush=True)
        running = [slug for slug in slugs if slug not in failed]

        time.sleep(5)  # let start-up settle before memory is read
        # By label: the container names of an instance other than `local` carry its suffix.
        tenants = engine.containers.list(filters={"label": ["cial.tenant", f"cial.instance={stack.project}"]})
        names = [str(c.name) for c in tenants if c.labels.get("cial.slug") in running]
        memory = stats_mib(names)
        values = list(memory.values())
        services = stats_mib(
            [
                str(c.name)
                for c in engine.containers.list(
                    filters={"label": f"com.docker.compose.project={stack.project}"}
                )
            ]
        )
        if values:
            print(
                f"memory per tenant: median {statistics.median(values):.1f} MiB, max {max(values):.1f} MiB; "
                f"all {len(values)} tenants {sum(values) / 1024:.2f} GiB; control plane "
                f"{sum(services.values()):.0f} MiB; host available {before_mib / 1024:.1f} GiB before, "
                f"{available_mib() / 1024:.1f} GiB now",
                flush=True,
            )

        with tempfile.TemporaryDirectory() as directory:
            script = spread_script(running, Path(directory))
            url = stack.router_url + "/"
            wrk(url, 8, 1.0, host=f"{running[0]}.localhost:8080")  # warm-up
            one_rate = wrk(url, 16, args.seconds, host=f"{running[0]}.localhost:8080")
            spread_rate, spread_p50 = wrk_spread(url, script, 16, args.seconds)
            print(
                f"router at c16: across all {len(running)} tenants {spread_rate:,.0f} req/s (p50 "
                f"{spread_p50:.2f} ms); one tenant {one_rate.requests_per_second:,.0f} req/s (p50 "
                f"{one_rate.p50_ms:.2f} ms); ratio {spread_rate / one_rate.requests_per_second:.2f}",
                flush=True,
            )

        extra = f"d{args.tenants:03d}{uuid.uuid4().hex[:4]}"
        begun = create(owner, extra)
        host = {"Host": f"{extra}.localhost:8080"}
        until(lambda: httpx.get(stack.router_url, headers=host, timeout=5).status_code == 200, 300)
        print(
            f"tenant {args.tenants + 1} (with {len(running)} running): create -> first 200 through the "
            f"router {time.perf_counter() - begun:.2f} s",
            flush=True,
        )
    finally:
        stack.down()
        engine.close()


if __name__ == "__main__":
    main()
