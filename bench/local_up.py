"""How long `make local-up` takes, warm and again, and how soon a tenant serves after down/up.

Prints wall times of the real commands on a project of the bench's own (never the developer's
`cial` stack): `make local-up` with everything built and nothing running ("warm"), the same again
with nothing changed ("again"), `make local-down`, and after `make local-up` once more the time
from its return until `acme` answers 200 through the router with its visits intact.
`--cold` first runs `make local-up` in a fresh clone of HEAD with image tags of its own and no
virtualenv, wheelhouse or base image ("cold": what a new developer waits), then removes what it
built. Figures only; nothing passes or fails on a time.

    .venv/bin/python bench/local_up.py [--cold]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from spec.local_mode import LocalMode  # noqa: E402
from testkit.owner import Owner, signed_in  # noqa: E402
from testkit.polling import eventually  # noqa: E402
from testkit.ports import released_port  # noqa: E402

OWNER = Owner("Bench Owner", "bench-local@example.com")


def timed(local: LocalMode, *targets: str) -> float:
    started = time.perf_counter()
    local.must(*targets)
    return time.perf_counter() - started


def until_running(local: LocalMode, slug: str) -> None:
    owner = signed_in(local.app_url, OWNER, setup_token=local.setup_token)
    try:

        def running() -> bool:
            state = owner.get(f"/api/admin/tenants/{slug}").json()["state"]
            assert state != "error"
            return bool(state == "running")

        eventually(running, timeout=120, what=f"{slug} running")
    finally:
        owner.close()


def answering(local: LocalMode, slug: str) -> None:
    eventually(
        lambda: local.via_router(slug).status_code == 200, timeout=120, what=f"{slug} through the router"
    )


def cold(tmp: Path) -> float:
    """`make local-up` in a fresh clone, building everything under tags of its own."""
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "--quiet", "--local", str(ROOT), str(clone)], check=True)
    local = LocalMode(f"bench-cold-{os.getpid()}", tmp / "cold-secrets.env", released_port(), released_port())
    tags = {
        "BASE_IMAGE": "cial-base:bench-cold",
        "TENANT_IMAGE": "cial-tenant:bench-cold",
        "APP_IMAGE": "cial-app:bench-cold",
    }
    env = {**local.env, "CIAL_TENANT_IMAGE": tags["TENANT_IMAGE"], "CIAL_APP_IMAGE": tags["APP_IMAGE"]}
    variables = [f"{name}={tag}" for name, tag in tags.items()]
    started = time.perf_counter()
    try:
        result = subprocess.run(["make", "-C", str(clone), "local-up", *variables], env=env, timeout=1800)
        seconds = time.perf_counter() - started
        if result.returncode != 0:
            raise SystemExit("cold make local-up failed")
        return seconds
    finally:
        subprocess.run(
            ["make", "-C", str(clone), "local-down", "PURGE=1", *variables], env=env, capture_output=True
        )
        subprocess.run(["docker", "rmi", *tags.values()], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", action="store_true", help="also time a fresh clone's first local-up")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-local-") as directory:
        tmp = Path(directory)
        figures: dict[str, float] = {}
        if arguments.cold:
            figures["cold make local-up (fresh clone, nothing built)"] = cold(tmp)
        local = LocalMode(f"bench-local-{os.getpid()}", tmp / "secrets.env", released_port(), released_port())
        local.must("images")  # built before the clock starts: "warm" means everything built
        local.make("local-down", "PURGE=1")
        try:
            figures["warm make local-up (built, nothing running)"] = timed(local, "local-up")
            figures["make local-up again (nothing changed)"] = timed(local, "local-up")
            owner = signed_in(local.app_url, OWNER, setup_token=local.setup_token)
            try:
                assert (
                    owner.post("/api/admin/tenants", json={"slug": "acme", "name": "Acme"}).status_code == 201
                )
            finally:
                owner.close()
            until_running(local, "acme")
            answering(local, "acme")
            local.via_router("acme", "/.cial/api/visits", "POST")
            before = local.via_router("acme", "/.cial/api/visits").json()["visits"]
            figures["make local-down (one tenant)"] = timed(local, "local-down")
            figures["make local-up after down (one tenant to bring back)"] = timed(local, "local-up")
            returned = time.perf_counter()
            answering(local, "acme")
            figures["local-up returned -> acme answers 200 via the router"] = time.perf_counter() - returned
            after = local.via_router("acme", "/.cial/api/visits").json()["visits"]
            print(f"visits before down {before}, after up {after}")
        finally:
            local.make("local-down", "PURGE=1")
    width = max(map(len, figures))
    for name, seconds in figures.items():
        print(f"{name:<{width}}  {seconds:7.1f} s")
    if "warm make local-up (built, nothing running)" in figures:
        ratio = (
            figures["make local-up again (nothing changed)"]
            / figures["warm make local-up (built, nothing running)"]
        )
        print(f"again / warm: {ratio:.2f}")


if __name__ == "__main__":
    main()
