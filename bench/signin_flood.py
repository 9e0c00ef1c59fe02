"""The sign-in throttle under a flood, on the compose stack (real App container, real Postgres).
Never passes or fails; prints what an attacker and the owner each see.

    .venv/bin/python bench/signin_flood.py [--flood 50]

From this host (one client address, as the App sees it): `--flood` concurrent sign-ins for the
owner's e-mail with wrong passwords, while a tenant is being created. Then the owner's right
password from the same client, and from another client (a container on the stack's network, so
another address). Then the App is restarted and the flooding client tries once more.
Every 401 is a password the App hashed; a 429 was refused before hashing, a 503 because argon2's
queue was full.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import docker  # noqa: E402
import httpx  # noqa: E402

from spec.containers import ComposeStack  # noqa: E402
from testkit.owner import SIGN_IN, Owner, signed_in  # noqa: E402

OWNER = Owner("Bench Flood", "bench-flood@example.com")

# Runs in a container on the stack's network: the owner's right password from another address.
FROM_ELSEWHERE = """
import json, sys, time, urllib.request
body = json.dumps({"email": sys.argv[1], "password": sys.argv[2]}).encode()
request = urllib.request.Request("http://app-api:3100/api/auth/sign-in/email", data=body,
                                 headers={"Content-Type": "application/json"})
started = time.perf_counter()
try:
    status = urllib.request.urlopen(request, timeout=30).status
except urllib.error.HTTPError as error:
    status = error.code
print(json.dumps({"status": status, "seconds": time.perf_counter() - started}))
"""


async def flood(base_url: str, count: int) -> tuple[Counter[int], float]:
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        started = time.perf_counter()
        answers = await asyncio.gather(
            *(
                client.post(SIGN_IN, json={"email": OWNER.email, "password": f"wrong {n}"})
                for n in range(count)
            )
        )
        return Counter(r.status_code for r in answers), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flood", type=int, default=50)
    args = parser.parse_args()
    engine = docker.from_env()
    stack = ComposeStack(project=f"cialbenchflood{os.getpid()}")
    stack.fresh()
    try:
        owner = signed_in(stack.app_url, OWNER, setup_token=stack.setup_token)
        created = time.perf_counter()
        assert (
            owner.post("/api/admin/tenants", json={"slug": "flooded", "name": "flooded"}).status_code == 201
        )
        statuses, seconds = asyncio.run(flood(stack.app_url, args.flood))
        print(
            f"{args.flood} concurrent wrong passwords from one client: {dict(sorted(statuses.items()))} "
            f"in {seconds:.2f} s; passwords hashed (the 401s): {statuses[401]}",
            flush=True,
        )
        same = httpx.Client(base_url=stack.app_url, timeout=30)
        right = {"email": OWNER.email, "password": OWNER.password}
        again = same.post(SIGN_IN, json=right)
        print(
            f"the owner's right password from the flooding client, at once: {again.status_code} "
            f"(Retry-After {again.headers.get('retry-after', '-')})"
        )
        # The App's own image has the Python this needs; on the stack's network, another address.
        output = engine.containers.run(
            os.environ.get("CIAL_APP_IMAGE", "cial-app:dev"),
            ["python3", "-c", FROM_ELSEWHERE, OWNER.email, OWNER.password],
            network=stack.network,
            remove=True,
        )
        elsewhere = json.loads(output.decode().strip().splitlines()[-1])
        print(
            f"the owner's right password from another client: {elsewhere['status']} "
            f"in {elsewhere['seconds'] * 1000:.0f} ms"
        )
        deadline = time.monotonic() + 120
        state = owner.get("/api/admin/tenants/flooded").json()["state"]
        while state not in ("running", "error") and time.monotonic() < deadline:
            time.sleep(0.2)
            state = owner.get("/api/admin/tenants/flooded").json()["state"]
        print(f"a tenant created as the flood began: {state} after {time.perf_counter() - created:.1f} s")

        # Each failure past the free ones doubles the wait: four more, each after the last wait.
        wait = 0
        for _ in range(4):
            time.sleep(wait + 0.2)
            answer = same.post(SIGN_IN, json={"email": OWNER.email, "password": "wrong once more"})
            wait = int(answer.headers.get("retry-after", "0"))
            if answer.status_code == 401:  # hashed; the wait it set is what the next try gets
                wait = int(same.post(SIGN_IN, json=right).headers.get("retry-after", "0"))
        print(f"after four more failures, spaced by their waits: Retry-After {wait} s")
        began = time.perf_counter()
        stack.restart("app-api")
        stack.wait_for_app()
        same.close()
        same = httpx.Client(base_url=stack.app_url, timeout=30)  # a restart may move its port
        remembered = same.post(SIGN_IN, json=right)
        print(
            f"after an App restart ({time.perf_counter() - began:.1f} s), the owner's right password from "
            f"that client: {remembered.status_code} "
            f"(Retry-After {remembered.headers.get('retry-after', '-')}): "
            "the backoff is in the database"
        )
        same.close()
    finally:
        stack.down()


if __name__ == "__main__":
    main()
