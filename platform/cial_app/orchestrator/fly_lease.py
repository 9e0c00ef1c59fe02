"""A Fly machine lease held for the span of one operation, released even when it is cancelled.

Fly serialises changes to a machine with leases: whoever holds one passes its nonce in the
`fly-machine-lease-nonce` header, and every other writer gets 409 until it is released or its TTL
runs out. We take one around each change so two App processes (or an operator's flyctl) never
interleave a stop with a start; the TTL bounds the damage of a process that dies holding one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .errors import MachineBusy, OrchestratorError
from .fly_api import FlyApi, FlyApiError

log = logging.getLogger(__name__)

LEASE_TTL_SECONDS = 30  # longer than one start/stop with its waits of our own deadline slices
# 409 while someone else holds it: back off 0.5, 1, 2, 4 s (7.5 s in all), then give up.
LEASE_ATTEMPTS = 5
LEASE_FIRST_DELAY = 0.5


def machine_path(app: str, machine_id: str) -> str:
    return f"/v1/apps/{app}/machines/{machine_id}"


async def acquire(api: FlyApi, app: str, machine_id: str, *, who: str) -> str:
    """The nonce of a fresh lease on the machine; MachineBusy if another holder keeps it."""
    delay = LEASE_FIRST_DELAY
    for attempt in range(1, LEASE_ATTEMPTS + 1):
        try:
            data = await api.call(
                "POST",
                f"{machine_path(app, machine_id)}/lease",
                f"lease machine {machine_id} of {who}",
                pace=f"lease:{machine_id}",
                body={"ttl": LEASE_TTL_SECONDS, "description": "cial orchestrator"},
                idempotent=False,
                expect=frozenset({409}),
            )
        except FlyApiError as exc:
            if exc.status != 409:
                raise
            if attempt == LEASE_ATTEMPTS:
                raise MachineBusy(
                    f"{who}'s Fly machine {machine_id} is held by another operation "
                    f"(Fly said: {exc.fly_error}); it is released within {LEASE_TTL_SECONDS} s, "
                    "then the App retries"
                ) from exc
            await api.sleep(delay)
            delay *= 2
            continue
        # The published description has the lease at the top level; Fly's guide shows it wrapped in
        # {"status", "data"}. Either is read.
        lease = data.get("data", data) if isinstance(data, dict) else {}
        return str(lease["nonce"])
    raise AssertionError("unreachable")  # the loop returns or raises


async def release(api: FlyApi, app: str, machine_id: str, nonce: str) -> None:
    """Let go of the lease; a failure is logged, not raised (the TTL frees it anyway), and 404
    (the machine is gone, with its lease) is what a destroy leaves."""
    try:
        await api.call(
            "DELETE",
            f"{machine_path(app, machine_id)}/lease",
            f"release the lease on machine {machine_id}",
            pace=f"lease:{machine_id}",
            nonce=nonce,
            idempotent=True,
            expect=frozenset({404}),
        )
    except FlyApiError as exc:
        if exc.status != 404:
            log.warning(
                "lease on %s not released (it expires in %d s): %s", machine_id, LEASE_TTL_SECONDS, exc
            )
    except OrchestratorError as exc:
        log.warning("lease on %s not released (it expires in %d s): %s", machine_id, LEASE_TTL_SECONDS, exc)


@asynccontextmanager
async def leased(
    api: FlyApi, app: str, machine_id: str, *, who: str, nonce: str | None = None
) -> AsyncIterator[str]:
    """Hold a lease for the block. `nonce`: one already held (the create's own, from `lease_ttl`).

    The release runs shielded in `finally`: a cancelled operation (the App's job cancelled by a
    delete, a shutdown) still lets go at once instead of blocking the machine for the whole TTL."""
    held = nonce if nonce is not None else await acquire(api, app, machine_id, who=who)
    try:
        yield held
    finally:
        await asyncio.shield(release(api, app, machine_id, held))
