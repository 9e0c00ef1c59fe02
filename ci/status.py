"""`make status`: the control plane's services and every tenant, with state, address and uptime.

Tenants come from the database (what the App believes, read as the superuser over Postgres' local
socket in its container) and uptimes from Docker (what runs): a tenant `running` in the database
whose container is missing shows it at once. Takes the same CIAL_PROJECT / CIAL_INSTANCE /
CIAL_ROUTER_PORT as the other scripts of ci/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import docker

HERE = Path(__file__).resolve().parent
SERVICES = ("postgres", "orchestrator", "app-api", "router")
TENANTS_SQL = (
    "SELECT slug, state, desired_state, coalesce(machine_id, ''), coalesce(published_port::text, ''),"
    " coalesce(state_reason, '') FROM tenants ORDER BY slug"
)


def compose(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HERE / "compose.sh"), *args], capture_output=True, text=True, timeout=60)


def uptime(started_at: str) -> str:
    started = datetime.fromisoformat(started_at[:26].rstrip("Z") + "+00:00")
    seconds = int((datetime.now(UTC) - started).total_seconds())
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def service_rows(engine: docker.DockerClient) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for service in SERVICES:
        container_id = compose("ps", "-q", service).stdout.strip()
        if not container_id:
            rows.append((service, "not created", "", ""))
            continue
        state = engine.containers.get(container_id).attrs["State"]
        health = state.get("Health", {}).get("Status", state["Status"])
        running = state["Status"] == "running"
        rows.append((service, health, uptime(state["StartedAt"]) if running else "", container_id[:12]))
    return rows


def tenant_rows(engine: docker.DockerClient) -> list[tuple[str, ...]] | str:
    query = compose(
        "exec", "-T", "postgres", "psql", "-XtA", "-F", "\t", "-U", "cial", "-d", "cial", "-c", TENANTS_SQL
    )
    if query.returncode != 0:
        return f"(tenants unknown: Postgres did not answer: {query.stderr.strip()[-200:]})"
    router_port = os.environ.get("CIAL_ROUTER_PORT", "8080")
    instance = os.environ.get("CIAL_INSTANCE", "local")
    started: dict[str, str] = {}
    for container in engine.containers.list(filters={"label": ["cial.tenant", f"cial.instance={instance}"]}):
        started[str(container.id)] = container.attrs["State"]["StartedAt"]
    rows: list[tuple[str, ...]] = []
    for line in query.stdout.splitlines():
        slug, state, desired, machine_id, published, reason = line.split("\t")
        up = uptime(started[machine_id]) if machine_id in started else ""
        address = f"http://{slug}.localhost:{router_port}" if state == "running" else ""
        local = f"127.0.0.1:{published}" if published else ""
        shown = state if desired == "running" or state == "stopped" else f"{state} (wants {desired})"
        rows.append((slug, shown, address, local, up, reason[:60]))
    return rows


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [header, *rows]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in lines
    )


def main() -> int:
    try:
        engine = docker.from_env()
        engine.ping()
    except docker.errors.DockerException as error:
        print(f"Docker does not answer: {error}", file=sys.stderr)
        return 1
    try:
        print(table(("service", "health", "uptime", "container"), service_rows(engine)))
        print()
        tenants = tenant_rows(engine)
        if isinstance(tenants, str):
            print(tenants)
        elif not tenants:
            print("no tenants yet: create one in the admin (make local-up prints where)")
        else:
            print(table(("tenant", "state", "address", "published", "uptime", "reason"), tenants))
    finally:
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
