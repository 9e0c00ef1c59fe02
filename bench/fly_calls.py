"""Figures for the Fly driver on the fake Machines API: how many requests each verb costs, how
many of them are GETs, and how long pacing (Fly's rate limits) makes it wait on Fly's clock.
Prints them; never passes or fails.

    .venv/bin/python bench/fly_calls.py [--tenants 10]

Request counts are exact (the fake counts what reached it); "paced" is time on the fake clock
the driver would have slept to stay within 1 req/s per action per machine (burst 3) and 5 GET/s.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "platform"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cial_app.orchestrator import MachineTemplate

from testkit.fly_fake import FlyFake, fly_driver


async def measure(fake: FlyFake, label: str, step: Callable[[], Awaitable[Any]]) -> None:
    before, clock = len(fake.requests), fake.clock.slept
    await step()
    new = fake.requests[before:]
    kinds = Counter(method for method, _, _ in new)
    print(
        f"{label:<22} {len(new):>3} requests ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}), "
        f"paced {fake.clock.slept - clock:5.2f} s"
    )


async def main(tenants: int) -> None:
    fake = FlyFake()
    fly = fly_driver(fake)
    spec = MachineTemplate().spec_for(str(uuid.uuid4()), "bench")
    await measure(fake, "create (new tenant)", lambda: fly.create(spec))
    await measure(fake, "create (again)", lambda: fly.create(spec))
    await measure(fake, "status", lambda: fly.status(spec.tenant_id))
    await measure(fake, "stop", lambda: fly.stop(spec.tenant_id))
    await measure(fake, "start", lambda: fly.start(spec.tenant_id))
    await measure(fake, "restart", lambda: fly.restart(spec.tenant_id))
    await measure(fake, "destroy", lambda: fly.destroy(spec.tenant_id))
    specs = [MachineTemplate().spec_for(str(uuid.uuid4()), f"b{i}") for i in range(tenants)]
    await measure(
        fake, f"create x{tenants} (concurrent)", lambda: asyncio.gather(*(fly.create(s) for s in specs))
    )
    await measure(fake, f"list_machines ({tenants})", fly.list_machines)
    await measure(fake, f"list_volumes ({tenants})", fly.list_volumes)
    print(f"429s from the fake's limits: {fake.rate_limited} {Counter(fake.limited_keys)}")
    await fly.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=int, default=10)
    asyncio.run(main(parser.parse_args().tenants))
