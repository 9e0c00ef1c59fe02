"""Figures for the tenant image. Prints them beside their targets; never passes or fails.

    .venv/bin/python bench/tenant_image.py [--runs 5] [--settle 15] [--baseline IMAGE]

- image size;
- `docker run` -> first 200 on `/` (the platform page, through the edge), and -> first 200 on
  /.cial/api/healthz (which answers "ok" only once every service listens): median of `--runs`;
- the floor under that figure on this machine: `docker run` of the base image serving a fixed
  page with Python's http.server -> first 200 (Docker's own start plus one interpreter); and the
  floor under any Litestar service: the tenant image running one interpreter that imports
  Litestar and uvicorn and serves a one-route app -> first 200, with that process's memory (every
  service of a tenant is such a process; the two halves import Litestar once each);
- memory of one running tenant container as `docker stats` counts it (usage minus inactive page
  cache), idle after `--settle` seconds, and again after 100 requests on each surface, with
  each process's resident and proportional set size (RSS, PSS), so the next step is visible.

With `--baseline` (e.g. the image of the last commit), the same figures for that image too,
its start-up runs interleaved with this one's so both see the same noise, and the ratios.
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
BASE_IMAGE = os.environ.get("CIAL_BASE_IMAGE", "cial-base:bookworm")
LABELS = {"cial.bench": f"tenant-image-{os.getpid()}"}
# Issue 11's targets (the L0 ones were 2 s and 150 MiB).
TARGET_FIRST_200_SECONDS = 1.0
TARGET_IDLE_MIB = 80.0
TARGET_IMAGE_MB = 150.0
MIB = 1024 * 1024
REQUESTS_PER_SURFACE = 25  # x 4 surfaces: the "after 100 requests"


# CPUs a tenant container may use (--cpus): None is no limit; the App gives each tenant 1.
CPUS: float | None = None


def run_tenant(client: docker.DockerClient, image: str, tenant_id: str) -> Container:
    # (host_ip,) means a free port on that address; the SDK's types only know (host_ip, port).
    ports: dict[str, Any] = {"8080/tcp": ("127.0.0.1",)}
    limits: dict[str, Any] = {} if CPUS is None else {"nano_cpus": int(CPUS * 1e9)}
    container: Container = client.containers.run(
        image,
        detach=True,
        **limits,
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


def measure_start(client: docker.DockerClient, image: str, run: int) -> tuple[float, float]:
    started = time.monotonic()
    container = run_tenant(client, image, f"bench-{run}")
    try:
        deadline = started + 60
        port = published_port(container, deadline)
        to_page = first_200(f"http://127.0.0.1:{port}/", started, deadline)
        to_health = first_200(f"http://127.0.0.1:{port}/.cial/api/healthz", started, deadline)
        return to_page, to_health
    finally:
        container.remove(force=True, v=True)


def measure_floor(client: docker.DockerClient) -> float:
    """`docker run` -> first 200 of the base image serving a page with Python's http.server."""
    started = time.monotonic()
    ports: dict[str, Any] = {"8080/tcp": ("127.0.0.1",)}
    container: Container = client.containers.run(
        BASE_IMAGE, ["python3", "-m", "http.server", "8080"], detach=True, ports=ports, labels=LABELS
    )
    try:
        deadline = started + 60
        return first_200(f"http://127.0.0.1:{published_port(container, deadline)}/", started, deadline)
    finally:
        container.remove(force=True, v=True)


# One Litestar app with one route, served by uvicorn: what every service of a tenant is at least.
LITESTAR_FLOOR_APP = """
import uvicorn
from litestar import Litestar, get

@get("/", sync_to_thread=False)
def index() -> str:
    return "ok"

uvicorn.run(Litestar([index], openapi_config=None), host="0.0.0.0", port=8080, log_config=None)
"""


def measure_litestar_floor(client: docker.DockerClient) -> tuple[float, float]:
    """`docker run` of the tenant image serving LITESTAR_FLOOR_APP -> first 200 (seconds), and the
    container's memory once it answered (MiB, as `docker stats` counts it)."""
    started = time.monotonic()
    ports: dict[str, Any] = {"8080/tcp": ("127.0.0.1",)}
    container: Container = client.containers.run(
        IMAGE,
        ["-I", "-B", "-c", LITESTAR_FLOOR_APP],
        entrypoint="/opt/cial-core/venv/bin/python",
        user="cial",
        detach=True,
        ports=ports,
        labels=LABELS,
    )
    try:
        deadline = started + 60
        seconds = first_200(f"http://127.0.0.1:{published_port(container, deadline)}/", started, deadline)
        time.sleep(2)
        return seconds, memory_mib(container)
    finally:
        container.remove(force=True, v=True)


def exercise(port: int, requests_per_surface: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        for _ in range(requests_per_surface):
            http.get("/")
            http.get("/.cial")
            http.get("/.cial/api/healthz")
            http.get("/.cial/api/visits")


def processes(container: Container) -> list[tuple[str, str, float, float]]:
    """(user, command, RSS MiB, PSS MiB) of each process in the container, read from the host's
    /proc by the host PIDs `docker top` names (Core's processes are not dumpable after they
    change user, and the container's root has no CAP_SYS_PTRACE: inside, nobody may read them)."""
    users = {"0": "root", "1000": "cial", "1001": "agent"}
    top = container.top(ps_args="-o pid,uid,args")
    rows = []
    for pid, uid, command in top["Processes"]:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                fields = dict(line.split(":", 1) for line in rollup if ":" in line)
        except OSError:  # gone, or this bench is not root on the host
            continue
        rss, pss = (int(fields[key].split()[0]) / 1024 for key in ("Rss", "Pss"))
        rows.append((users.get(uid, uid), command[:70], rss, pss))
    return rows


def measure_memory(client: docker.DockerClient, image: str, settle: float) -> tuple[float, float, list[Any]]:
    container = run_tenant(client, image, "bench-memory")
    try:
        started = time.monotonic()
        port = published_port(container, started + 60)
        first_200(f"http://127.0.0.1:{port}/.cial/api/healthz", started, started + 60)
        time.sleep(settle)
        idle = statistics.median(memory_mib(container) for _ in range(3))
        exercise(port, REQUESTS_PER_SURFACE)
        time.sleep(2)
        used = statistics.median(memory_mib(container) for _ in range(3))
        return idle, used, processes(container)
    finally:
        container.remove(force=True, v=True)


def remove_ours(client: docker.DockerClient) -> None:
    label = f"cial.bench={LABELS['cial.bench']}"
    for container in client.containers.list(all=True, filters={"label": label}):
        container.remove(force=True, v=True)


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})"


def ratio(new: float, old: float | None) -> str:
    return "" if old is None else f"   [baseline {old:.2f}, ratio {new / old:.2f}x]"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="containers started for the start-up figure")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds before idle memory is read")
    parser.add_argument("--baseline", help="another tenant image to measure beside this one")
    parser.add_argument(
        "--cpus", type=float, help="CPU limit of each tenant container, as the App sets it (1); default none"
    )
    args = parser.parse_args(argv)
    global CPUS  # one setting for every container this run starts
    CPUS = args.cpus
    images = [IMAGE] if args.baseline is None else [IMAGE, args.baseline]

    client = docker.from_env()
    try:
        sizes = {image: client.images.get(image).attrs["Size"] / 1e6 for image in images}
        base = sizes.get(args.baseline) if args.baseline else None
        size = sizes[IMAGE]
        print(f"image {IMAGE}: {size:.0f} MB (target <= {TARGET_IMAGE_MB:.0f}){ratio(size, base)}")

        pages: dict[str, list[float]] = {image: [] for image in images}
        healths: dict[str, list[float]] = {image: [] for image in images}
        floors: list[float] = []
        litestar_floors: list[float] = []
        litestar_memory: list[float] = []
        for run in range(args.runs):
            for image in images:  # interleaved: every image sees the same moments of noise
                to_page, to_health = measure_start(client, image, run)
                pages[image].append(to_page)
                healths[image].append(to_health)
            floors.append(measure_floor(client))
            seconds, mib = measure_litestar_floor(client)
            litestar_floors.append(seconds)
            litestar_memory.append(mib)
        for image in images:
            label = "" if image == IMAGE else f" ({image})"
            print(f"docker run -> first 200 on /{label}: {spread(pages[image])}")
            print(f"docker run -> healthz ok{label}:     {spread(healths[image])}")
        old = statistics.median(pages[args.baseline]) if args.baseline else None
        new = statistics.median(pages[IMAGE])
        limit = "no CPU limit" if CPUS is None else f"--cpus {CPUS:g}"
        print(
            f"first 200 on / (target <= {TARGET_FIRST_200_SECONDS:.1f} s; {limit}): "
            f"{new:.2f} s{ratio(new, old)}"
        )
        print(f"floor: docker run of {BASE_IMAGE} + http.server -> first 200: {spread(floors)}")
        print(
            f"floor of a Litestar service: docker run of {IMAGE} + one uvicorn/Litestar app -> first "
            f"200: {spread(litestar_floors)}; its memory {statistics.median(litestar_memory):.1f} MiB"
        )

        for image in images:
            idle, used, rows = measure_memory(client, image, args.settle)
            print(
                f"memory of {image}: idle {idle:.1f} MiB ({args.settle:.0f} s after ready; target <= "
                f"{TARGET_IDLE_MIB:.0f}), after {4 * REQUESTS_PER_SURFACE} requests {used:.1f} MiB"
            )
            for user, command, rss, pss in rows:
                print(f"    {user:<6} RSS {rss:6.1f} MiB  PSS {pss:6.1f} MiB  {command}")
    except KeyboardInterrupt:
        return 130
    finally:
        remove_ours(client)
        client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
