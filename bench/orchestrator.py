"""Figures for the orchestrator's Docker driver (L3). Prints them; never passes or fails on a time.

    .venv/bin/python bench/orchestrator.py [--tenants 20] [--sample 10]

- one tenant at a time (each stopped once measured): create -> running (the driver's create
  returns) and create -> first 200 on /.cial/api/healthz, p50/p95 over `--sample` tenants;
  then start -> running and start -> first 200 of the same tenants, stopped;
- how create -> first 200 grows as tenants 1..`--tenants` are added, all left running;
- memory of each idle tenant (as `docker stats` counts it: usage minus page cache).

Uses the image in $CIAL_TENANT_IMAGE (default cial-tenant:dev). Every resource is labelled with a
bench-only instance and removed at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "platform"))

import docker
from cial_app.orchestrator import (
    INSTANCE_LABEL,
    Endpoint,
    Machine,
    MachineSpec,
    MachineTemplate,
    Orchestrator,
    get_orchestrator,
    health_url,
    wait_healthy,
)

IMAGE = os.environ.get("CIAL_TENANT_IMAGE", "cial-tenant:dev")
INSTANCE = f"bench-{uuid.uuid4().hex[:8]}"


@dataclass
class Timing:
    to_running: float
    to_first_200: float


def published(machine: Machine) -> Endpoint:
    assert machine.published is not None, f"{machine.slug} publishes no port"
    return machine.published


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(label: str, values: list[float]) -> str:
    p50, p95 = percentile(values, 50) * 1000, percentile(values, 95) * 1000
    low, high = min(values) * 1000, max(values) * 1000
    return (
        f"{label:<28} p50 {p50:6.0f} ms  p95 {p95:6.0f} ms  (n={len(values)}, min {low:.0f}, max {high:.0f})"
    )


async def timed_create(driver: Orchestrator, spec: MachineSpec) -> Timing:
    started = time.perf_counter()
    machine = await driver.create(spec)
    running = time.perf_counter()
    await wait_healthy(
        machine, health_url(published(machine)), deadline=60, orchestrator=driver, interval=0.02
    )
    return Timing(running - started, time.perf_counter() - started)


async def timed_start(driver: Orchestrator, spec: MachineSpec) -> Timing:
    started = time.perf_counter()
    machine = await driver.start(spec.tenant_id)
    running = time.perf_counter()
    await wait_healthy(
        machine, health_url(published(machine)), deadline=60, orchestrator=driver, interval=0.02
    )
    return Timing(running - started, time.perf_counter() - started)


def idle_memory(client: docker.DockerClient) -> list[float]:
    """MiB per tenant container, as `docker stats` shows it (page cache excluded)."""
    sizes = []
    for container in client.containers.list(filters={"label": f"{INSTANCE_LABEL}={INSTANCE}"}):
        stats: Any = container.stats(stream=False)
        memory = stats["memory_stats"]
        detail = memory.get("stats", {})
        cache = detail.get("inactive_file", detail.get("total_inactive_file", detail.get("cache", 0)))
        sizes.append((memory["usage"] - cache) / 2**20)
    return sizes


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def cleanup(client: docker.DockerClient) -> None:
    selector: dict[str, str | list[str] | bool] = {"label": f"{INSTANCE_LABEL}={INSTANCE}"}
    for container in client.containers.list(all=True, filters=selector):
        container.remove(force=True)
    for volume in client.volumes.list(filters=selector):
        volume.remove(force=True)


async def main(tenants: int, sample: int) -> None:
    client = docker.from_env()
    client.images.get(IMAGE)  # fail early, with Docker's own message, if the image is missing
    driver = get_orchestrator("docker", instance=INSTANCE)
    template = MachineTemplate(image=IMAGE)

    def new_specs(count: int, prefix: str) -> list[MachineSpec]:
        return [
            template.spec_for(str(uuid.uuid4()), f"{prefix}-{i:02d}-{uuid.uuid4().hex[:6]}")
            for i in range(count)
        ]

    # The load is printed because figures on a shared machine mean little without it.
    print(f"image {IMAGE}, {tenants} tenants, sample {sample}, {os.cpu_count()} CPUs, load {_load()}")
    try:
        # 1. One tenant at a time: each is stopped once measured, so none slows the next one down.
        alone = new_specs(sample, "bench-one")
        creates: list[Timing] = []
        for spec in alone:
            creates.append(await timed_create(driver, spec))
            await driver.stop(spec.tenant_id)
        starts: list[Timing] = []
        for spec in alone:
            starts.append(await timed_start(driver, spec))
            await driver.stop(spec.tenant_id)
        for spec in alone:
            await driver.destroy(spec.tenant_id)
        print(f"\none tenant at a time ({sample} tenants)")
        print(summary("create -> running", [t.to_running for t in creates]))
        print(summary("create -> first 200", [t.to_first_200 for t in creates]))
        print(summary("stopped -> start -> running", [t.to_running for t in starts]))
        print(summary("stopped -> start -> first 200", [t.to_first_200 for t in starts]))

        # 2. Tenants 1..N created in turn and all left running: what the neighbours cost.
        growth = [await timed_create(driver, spec) for spec in new_specs(tenants, "bench-many")]
        print(f"\ncreate -> first 200 as tenants are added (all left running), load now {_load()}")
        for number, timing in enumerate(growth, start=1):
            if number in (1, 2, 5, 10, 15, 20) or number == len(growth):
                first_200, running = timing.to_first_200 * 1000, timing.to_running * 1000
                print(f"  tenant {number:>2}: {first_200:6.0f} ms (running after {running:.0f} ms)")
        half = len(growth) // 2
        if half:
            early = statistics.median(t.to_first_200 for t in growth[:half])
            late = statistics.median(t.to_first_200 for t in growth[half:])
            print(f"  median of tenants {half + 1}..{len(growth)} / of 1..{half}: {late / early:.2f}x")

        await asyncio.sleep(5)  # let start-up work settle: the figure is for an idle tenant
        sizes = await asyncio.to_thread(idle_memory, client)
        print(
            f"\nidle memory per tenant ({len(sizes)} running): median {statistics.median(sizes):.1f} MiB, "
            f"min {min(sizes):.1f}, max {max(sizes):.1f}, total {sum(sizes):.0f} MiB"
        )
        print(f"load at the end {_load()}")
    finally:
        await driver.aclose()
        await asyncio.to_thread(cleanup, client)
        client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--sample", type=int, default=10)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.tenants, min(arguments.sample, arguments.tenants)))
