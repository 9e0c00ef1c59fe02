"""Waiting for a tenant to answer: the end of provisioning is a 200 from its health endpoint.

The engine's own "running" only says a process started; the tenant is ready when its edge routes
`/.cial/api/healthz` to Core and Core answers. Kept apart from the drivers: any driver's machine is
checked the same way, over HTTP.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from .base import (
    HEALTH_PATH,
    Endpoint,
    Machine,
    MachineState,
    Orchestrator,
)
from .errors import (
    HealthTimeout,
    MachineCrashed,
)

# How often the engine is asked whether the machine is still alive while we poll it over HTTP:
# a container that crashes on boot should fail provisioning now, not at the deadline.
_LIVENESS_EVERY = 1.0


def health_url(endpoint: Endpoint) -> str:
    """The health endpoint of a machine reached at `endpoint`."""
    return endpoint.url + HEALTH_PATH


async def wait_healthy(
    machine: Machine,
    url: str,
    *,
    deadline: float = 30.0,
    orchestrator: Orchestrator | None = None,
    interval: float = 0.1,
) -> float:
    """Poll the machine's health endpoint until it answers 200; return the seconds it took.

    `url` is the health endpoint as the caller reaches it (the machine's published port, its
    upstream, or the router's probe of it).
    With `orchestrator` given, the machine is also watched: if it stops or restarts meanwhile,
    MachineCrashed is raised at once with its exit code. `deadline` is in seconds from now; past
    it, HealthTimeout says what the last attempt saw."""
    started = time.monotonic()
    until = started + deadline
    last = "no answer yet"
    next_liveness = started + _LIVENESS_EVERY
    # trust_env=False: an HTTP(S)_PROXY in the environment must not capture 127.0.0.1 or a
    # container name.
    async with httpx.AsyncClient(trust_env=False) as client:
        while True:
            remaining = until - time.monotonic()
            if remaining <= 0:
                raise HealthTimeout(
                    f"tenant {machine.slug or machine.tenant_id} did not answer {HEALTH_PATH} with 200 "
                    f"within {deadline:g} s (last attempt: {last})"
                )
            try:
                response = await client.get(url, timeout=min(2.0, max(remaining, 0.05)))
            except httpx.TransportError as exc:
                last = _describe(exc)
            else:
                if response.status_code == 200:
                    return time.monotonic() - started
                last = f"HTTP {response.status_code}"
            if orchestrator is not None and time.monotonic() >= next_liveness:
                next_liveness = time.monotonic() + _LIVENESS_EVERY
                await _check_alive(orchestrator, machine)
            await asyncio.sleep(min(interval, max(until - time.monotonic(), 0)))


async def _check_alive(orchestrator: Orchestrator, machine: Machine) -> None:
    now = await orchestrator.status(machine.tenant_id)
    name = machine.slug or machine.tenant_id
    if now.state is MachineState.ABSENT:
        raise MachineCrashed(f"tenant {name}'s container disappeared while starting")
    if now.id != machine.id:
        raise MachineCrashed(f"tenant {name}'s container was replaced while starting")
    if now.restart_count > machine.restart_count or now.state is MachineState.RESTARTING:
        raise MachineCrashed(f"tenant {name}'s container keeps restarting{_exit(now)}")
    if not now.state.is_up and now.state is not MachineState.CREATED:
        raise MachineCrashed(f"tenant {name}'s container is {now.state}{_exit(now)}")


def _exit(machine: Machine) -> str:
    parts = []
    if machine.exit_code is not None:
        parts.append(f"exit code {machine.exit_code}")
    if machine.error:
        parts.append(machine.error)
    return f" ({'; '.join(parts)})" if parts else ""


def _describe(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return type(exc).__name__
