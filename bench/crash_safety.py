"""Crash safety, measured: the App is killed (SIGKILL) at random points of provisioning, again and
again, and what it manages is counted once it has come back. Never passes or fails; prints.

    .venv/bin/python bench/crash_safety.py [--kills 50] [--tenants 6] [--seed N]

On a compose stack of its own (Postgres, App, router). Each round asks the App for one random
owner action on one of `--tenants` slugs (create if it does not exist, else start, stop, restart
or delete), waits a random
0-2.5 s (so the kill lands before, during or after the engine work), kills the App's container
with SIGKILL, starts it again and waits for /healthz. At the end the App is left to converge, and
the bench reports, against what the App's database says:

- tenants lost: a tenant the API had accepted and not deleted that is gone (the target is 0);
- containers per tenant: exactly 1 for each tenant whose desired state is running, 0 or 1 stopped;
- orphans: containers or volumes labelled for this stack with no tenant row (quarantined: 0 expected);
- volumes lost: a tenant with no volume (0 expected).
Every number is bounded: `--kills` rounds, each wait has a deadline.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import docker  # noqa: E402
import httpx  # noqa: E402

from spec.containers import ComposeStack  # noqa: E402
from testkit.owner import Owner, signed_in  # noqa: E402

VERBS = ("create", "start", "stop", "restart", "delete")
SETTLE_SECONDS = 180.0


def act(owner: httpx.Client, verb: str, slug: str) -> int:
    if verb == "create":
        return owner.post("/api/admin/tenants", json={"slug": slug, "name": slug}).status_code
    if verb == "delete":
        return owner.delete(f"/api/admin/tenants/{slug}").status_code
    return owner.post(f"/api/admin/tenants/{slug}/{verb}").status_code


def app_container(engine: docker.DockerClient, project: str) -> Any:
    labels = [f"com.docker.compose.project={project}", "com.docker.compose.service=app-api"]
    [container] = engine.containers.list(all=True, filters={"label": labels})
    return container


def settled(tenants: list[dict[str, Any]]) -> bool:
    return all(t["state"] in ("running", "stopped", "error") for t in tenants)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--tenants", type=int, default=6)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    rng = random.Random(seed)
    engine = docker.from_env()
    stack = ComposeStack(project=f"cialbenchcrash{os.getpid()}")
    stack.fresh()
    owner_account = Owner("Bench Crash", "bench-crash@example.com")
    slugs = [f"crash{index}" for index in range(args.tenants)]
    # What the owner was told: accepted creates and deletes, per slug (the last one wins).
    accepted: dict[str, str] = {}
    answers: Counter[str] = Counter()
    started = time.perf_counter()
    try:
        for round_number in range(args.kills):
            owner = signed_in(stack.app_url, owner_account, setup_token=stack.setup_token)
            slug = rng.choice(slugs)
            # A slug not known to exist is created; one that exists gets any other action.
            verb = rng.choice(VERBS[1:]) if accepted.get(slug) == "exists" else "create"
            try:
                status = act(owner, verb, slug)
            except httpx.HTTPError as error:
                status = 0
                answers[f"{verb} {type(error).__name__}"] += 1
            else:
                answers[f"{verb} {status}"] += 1
            if verb == "create" and status == 201:
                accepted[slug] = "exists"
            if verb == "delete" and status in (200, 202, 204):
                accepted[slug] = "deleted"
            owner.close()
            time.sleep(rng.uniform(0.0, 2.5))
            app_container(engine, stack.project).kill(signal="SIGKILL")
            stack.compose("start", "app-api")
            stack.wait_for_app()
            print(f"round {round_number + 1}/{args.kills}: {verb} {slug} -> {status}, App killed", flush=True)

        owner = signed_in(stack.app_url, owner_account, setup_token=stack.setup_token)
        deadline = time.monotonic() + SETTLE_SECONDS
        tenants = owner.get("/api/admin/tenants").json()
        while not settled(tenants) and time.monotonic() < deadline:
            time.sleep(1)
            tenants = owner.get("/api/admin/tenants").json()
        # Deletions the App accepted finish in the background; give them the same deadline.
        while any(t["state"] == "deleting" for t in tenants) and time.monotonic() < deadline:
            time.sleep(1)
            tenants = owner.get("/api/admin/tenants").json()
        time.sleep(10)  # two reconcile rounds with nothing left to do
        tenants = owner.get("/api/admin/tenants").json()
        quarantined = owner.get("/api/admin/quarantine").json()

        by_slug = {t["slug"]: t for t in tenants}
        label = f"cial.instance={stack.project}"
        containers = engine.containers.list(all=True, filters={"label": ["cial.tenant", label]})
        volumes = engine.volumes.list(filters={"label": ["cial.tenant", label]})
        per_tenant = Counter(c.labels["cial.tenant"] for c in containers)
        volume_of = Counter(v.attrs["Labels"]["cial.tenant"] for v in volumes)
        ids = {t["id"] for t in tenants}

        lost = sorted(slug for slug, fate in accepted.items() if fate == "exists" and slug not in by_slug)
        wrong_count = sorted(
            f"{t['slug']}({t['desired_state']}: {per_tenant[t['id']]})"
            for t in tenants
            if (t["desired_state"] == "running" and per_tenant[t["id"]] != 1) or per_tenant[t["id"]] > 1
        )
        orphans = sorted(
            {*(tid for tid in per_tenant if tid not in ids), *(tid for tid in volume_of if tid not in ids)}
        )
        # A tenant stopped before its first container was made never had a volume; one meant to
        # run must have exactly one.
        volumes_lost = sorted(
            t["slug"]
            for t in tenants
            if volume_of[t["id"]] > 1 or (t["desired_state"] == "running" and not volume_of[t["id"]])
        )
        states = Counter(t["state"] for t in tenants)
        print(
            f"\n{args.kills} SIGKILLs of the App in {time.perf_counter() - started:.0f} s (seed {seed}); "
            f"owner actions answered: {dict(sorted(answers.items()))}",
            flush=True,
        )
        print(
            f"tenants now: {len(tenants)} {dict(states)}; accepted and not deleted: "
            f"{sum(1 for fate in accepted.values() if fate == 'exists')}"
        )
        print(f"tenants lost: {len(lost)} {lost}")
        print(f"tenants with the wrong number of containers: {len(wrong_count)} {wrong_count}")
        print(
            f"orphans (containers or volumes with no tenant row): {len(orphans)}; "
            f"quarantined: {len(quarantined)}"
        )
        print(f"volumes lost: {len(volumes_lost)} {volumes_lost}")
        for t in tenants:
            if t["state"] == "error":
                print(f"  ! {t['slug']}: error: {t.get('state_reason')}")
    finally:
        stack.down()


if __name__ == "__main__":
    main()
