"""Figures for the App (L1/L2) on the real compose stack (Postgres). Prints; never passes or fails.

    .venv/bin/python bench/app.py [--sign-ins 50] [--tenants 1000] [--lists 100]

- sign-in latency, argon2id cost included: p50/p99 over `--sign-ins` sign-ins;
- tenant-list latency with `--tenants` tenants in the table: p50/p99 of GET /api/admin/tenants
  and of the admin page /admin.

The stack runs under a project of its own and is removed at the end. Its App is given a tenant
image that does not exist and the tenants are inserted as stopped, so the figures measure the
API and the database, not 1,000 containers on a two-core machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from spec.containers import ComposeStack
from testkit.owner import Owner, sign_up

OWNER = Owner(name="Bench Owner", email="bench@example.com")


def timed(call: Callable[[], httpx.Response], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return samples


def percentiles(samples: list[float]) -> str:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return f"p50 {statistics.median(samples):7.1f} ms   p99 {cuts[98]:7.1f} ms   (n={len(samples)})"


def insert_tenants(stack: ComposeStack, owner_id: str, count: int) -> None:
    sql = (
        "INSERT INTO tenants (id, slug, name, state, desired_state, owner_id, created_at, updated_at) "
        "SELECT gen_random_uuid(), 'bench-' || g, 'Bench tenant ' || g, 'stopped', 'stopped', "
        f"'{owner_id}', now(), now() FROM generate_series(1, {count}) AS g"
    )
    stack.compose("exec", "-T", "postgres", "psql", "-q", "-U", "cial", "-d", "cial", "-c", sql)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sign-ins", type=int, default=50)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--lists", type=int, default=100)
    args = parser.parse_args()

    stack = ComposeStack(
        project=f"cialbench{os.getpid()}", overrides={"CIAL_TENANT_IMAGE": "cial-tenant:bench-none"}
    )
    print("bringing up Postgres + the App ...", flush=True)
    stack.fresh()
    try:
        with httpx.Client(base_url=stack.app_url, timeout=30) as first:
            signed = sign_up(first, OWNER, stack.setup_token)
        signed.raise_for_status()
        owner_id = signed.json()["user"]["id"]
        credentials = {"email": OWNER.email, "password": OWNER.password}
        with httpx.Client(base_url=stack.app_url, timeout=30) as client:
            sign_in = timed(lambda: client.post("/api/auth/sign-in/email", json=credentials), args.sign_ins)
            print(f"sign-in (argon2id m=19456 KiB t=2 p=1)   {percentiles(sign_in)}")

            insert_tenants(stack, owner_id, args.tenants)
            count = len(client.get("/api/admin/tenants").json())
            api = timed(lambda: client.get("/api/admin/tenants"), args.lists)
            print(f"GET /api/admin/tenants ({count} tenants) {percentiles(api)}")
            page = timed(lambda: client.get("/admin"), args.lists)
            print(f"GET /admin page ({count} tenants)        {percentiles(page)}")
            print(f"ratio list/sign-in (p50): {statistics.median(api) / statistics.median(sign_in):.2f}")
    except (httpx.HTTPError, subprocess.CalledProcessError, RuntimeError) as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 1
    finally:
        stack.down()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
