"""The Fly driver against real Fly Machines: only with CIAL_FLY_LIVE=1 and a token, org, region
and an image Fly can pull (the local `cial-tenant:dev` is not in any registry). Skipped otherwise,
saying what is missing. It makes one app with one machine and volume and destroys them after.

    CIAL_FLY_LIVE=1 CIAL_FLY_TOKEN=... CIAL_FLY_ORG=... CIAL_FLY_REGION=cdg \\
    CIAL_FLY_IMAGE=registry.fly.io/<app>:<tag> .venv/bin/python -m pytest tests/orchestrator/test_fly_live.py
"""

from __future__ import annotations

import os
import uuid

import pytest
from cial_app.orchestrator import MachineState, MachineTemplate
from cial_app.orchestrator.fly import FlyOrchestrator

NEEDED = ("CIAL_FLY_TOKEN", "CIAL_FLY_ORG", "CIAL_FLY_REGION", "CIAL_FLY_IMAGE")
missing = [name for name in NEEDED if not os.environ.get(name)]
pytestmark = pytest.mark.skipif(
    os.environ.get("CIAL_FLY_LIVE") != "1" or bool(missing),
    reason=f"live Fly tests need CIAL_FLY_LIVE=1 and {', '.join(missing) or 'nothing else'}",
)


async def test_a_tenant_lives_and_dies_on_real_fly() -> None:
    fly = FlyOrchestrator(
        token=os.environ["CIAL_FLY_TOKEN"],
        org=os.environ["CIAL_FLY_ORG"],
        region=os.environ["CIAL_FLY_REGION"],
        instance="live-test",
        app_prefix="cial-live",
    )
    spec = MachineTemplate(image=os.environ["CIAL_FLY_IMAGE"]).spec_for(str(uuid.uuid4()), "live")
    try:
        assert (await fly.create(spec)).state is MachineState.RUNNING
        assert (await fly.create(spec)).state is MachineState.RUNNING
        assert (await fly.stop(spec.tenant_id)).state is MachineState.STOPPED
        assert (await fly.start(spec.tenant_id)).state is MachineState.RUNNING
    finally:
        await fly.destroy(spec.tenant_id)
        assert (await fly.status(spec.tenant_id)).state is MachineState.ABSENT
        await fly.aclose()
