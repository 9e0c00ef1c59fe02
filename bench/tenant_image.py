"""Figures for the tenant image (L0). Prints them beside their targets; never passes or fails.

    .venv/bin/python bench/tenant_image.py [--runs 5] [--settle 15]

- image size;
- `docker run` -> first 200 on `/` (the platform page, through the edge), and -> first 200 on
  /.cial/api/healthz (which answers "ok" only once every service listens): median of `--runs`;
- memory of one running tenant container as `docker stats` counts it (usage minus inactive page
  cache), idle after `--settle` seconds, and again after a few hundred requests on each surface.

Uses the image in $CIAL_TENANT_IMAGE (default cial-tenant:dev). Every container is labelled with
this run's label and removed at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any, cast

import docker
import httpx
from docker.models.containers import Container

IMAGE = os.environ.get("CIAL_TENANT_IMAGE", "cial-tenant:dev")
LABELS = {"cial.bench": f"tenant-image-{os.getpid()}"}
TARGET_FIRST_200_SECONDS = 2.0
TARGET_IDLE_MIB = 150.0
MIB = 1024 * 1024


def run_tenant(client: docker.DockerClient, tenant_id: str) -> Container:
    # (host_ip,) means a free port on that address; the SDK's types only know (host_ip, port).
    ports: dict[str, Any] = {"8080/tcp": ("127.0.0.1",)}
    container: Container = client.containers.run(
        IMAGE,
        detach=True,
        environment={"TENANT_ID": tenant_id, "TENANT_SLUG": tenant_id},
        ports=ports,
        labels=LABELS,
    )
    return container


def published_port(container: Container, deadline: float) -> int:
    while True:
        container.reload()
        bindings = container.attrs["NetworkSettings"]["Ports"].get("8080/tcp")
        if bindings:
            return int(bindings[0]["HostPort"])
        if time.monotonic() > deadline:
            raise TimeoutError("port 8080 was never published")
        time.sleep(0.01)


def first_200(url: str, started: float, deadline: float) -> float:
    with httpx.Client(timeout=1) as http:
        while True:
            try:
                if http.get(url).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"no 200 from {url}")
            time.sleep(0.01)


def memory_mib(container: Container) -> float:
    """What `docker stats` shows: usage minus inactive file cache (cgroup v1 and v2 names)."""
    stats = cast(dict[str, Any], container.stats(stream=False))
    memory = stats["memory_stats"]
    inactive = memory.get("stats", {}).get(
        "total_inactive_file", memory.get("stats", {}).get("inactive_file", 0)
    )
    return float(memory["usage"] - inactive) / MIB


def measure_start(client: docker.DockerClient, run: int) -> tuple[float, float]:
    started = time.monotonic()
    container = run_tenant(client, f"bench-{run}")
    try:
        deadline = started + 60
        port = published_port(container, deadline)
        to_page = first_200(f"http://127.0.0.1:{port}/", started, deadline)
        to_health = first_200(f"http://127.0.0.1:{port}/.cial/api/healthz", started, deadline)
        return to_page, to_health
    finally:
        container.remove(force=True, v=True)


def exercise(port: int, requests_per_surface: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        for _ in range(requests_per_surface):
            http.get("/")
            http.get("/.cial")
            http.get("/.cial/api/healthz")
            http.get("/.cial/api/visits")


def remove_ours(client: docker.DockerClient) -> None:
    label = f"cial.bench={LABELS['cial.bench']}"
    for container in client.containers.list(all=True, filters={"label": label}):
        container.remove(force=True, v=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="containers started for the start-up figure")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds before idle memory is read")
    args = parser.parse_args(argv)

    client = docker.from_env()
    try:
        image = client.images.get(IMAGE)
        print(f"image {IMAGE}: {image.attrs['Size'] / 1e6:.0f} MB")

        pages, healths = [], []
        for run in range(args.runs):
            to_page, to_health = measure_start(client, run)
            pages.append(to_page)
            healths.append(to_health)
            print(f"  run {run + 1}: first 200 on / {to_page:.2f} s, on healthz {to_health:.2f} s")
        print(
            f"docker run -> first 200 on /:       median {statistics.median(pages):.2f} s "
            f"(min {min(pages):.2f}, max {max(pages):.2f}; target < {TARGET_FIRST_200_SECONDS:.0f} s)"
        )
        print(
            f"docker run -> healthz ok:           median {statistics.median(healths):.2f} s "
            f"(min {min(healths):.2f}, max {max(healths):.2f})"
        )

        container = run_tenant(client, "bench-memory")
        started = time.monotonic()
        port = published_port(container, started + 60)
        first_200(f"http://127.0.0.1:{port}/.cial/api/healthz", started, started + 60)
        time.sleep(args.settle)
        idle = statistics.median(memory_mib(container) for _ in range(3))
        print(
            f"idle memory ({args.settle:.0f} s after ready):  {idle:.1f} MiB (target < {TARGET_IDLE_MIB:.0f})"
        )
        exercise(port, 200)
        time.sleep(2)
        used = statistics.median(memory_mib(container) for _ in range(3))
        print(f"memory after 800 requests:          {used:.1f} MiB")
    except KeyboardInterrupt:
        return 130
    finally:
        remove_ours(client)
        client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
