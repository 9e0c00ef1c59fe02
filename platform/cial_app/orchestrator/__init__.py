"""Tenant machines behind one interface; a driver per engine, chosen by name.

`get_orchestrator("docker", ...)` imports the Docker driver (and the `docker` SDK) only when it is
chosen: importing this package costs nothing, and the production driver can live beside it.
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import (
    DATA_DIR,
    HEALTH_PATH,
    INSTANCE_LABEL,
    MACHINE_PORT,
    SLUG_LABEL,
    TENANT_ID_ENV,
    TENANT_LABEL,
    TENANT_SLUG_ENV,
    Desired,
    Endpoint,
    Health,
    Machine,
    MachineSpec,
    MachineState,
    MachineTemplate,
    Orchestrator,
    Volume,
    machine_name,
    parse_memory,
    volume_name,
)
from .errors import (
    EngineError,
    EngineUnavailable,
    HealthTimeout,
    ImageNotFound,
    InvalidSpec,
    MachineBusy,
    MachineCrashed,
    MachineNotFound,
    NameConflict,
    NetworkNotFound,
    NoAddress,
    OrchestratorError,
    PortConflict,
    UnknownDriver,
)
from .health import health_url, wait_healthy
from .plan import Action, ActionKind, DesiredTenant, plan

# name -> "module:class", imported on demand.
_DRIVERS = {
    "docker": "cial_app.orchestrator.docker:DockerOrchestrator",
    "memory": "cial_app.orchestrator.memory:MemoryOrchestrator",
    # The orchestrator service over HTTP (cial_app.orchestrator_service), which holds the socket.
    "remote": "cial_app.orchestrator.remote:RemoteOrchestrator",
    # Production: Fly Machines over its HTTP API (one Fly app per tenant; README).
    "fly": "cial_app.orchestrator.fly:FlyOrchestrator",
}


def drivers() -> list[str]:
    return sorted(_DRIVERS)


def get_orchestrator(name: str, **settings: Any) -> Orchestrator:
    """The driver called `name`, built with its own settings (e.g. docker: base_url, timeout)."""
    try:
        target = _DRIVERS[name]
    except KeyError:
        raise UnknownDriver(
            f"no orchestrator driver named {name!r} (known: {', '.join(drivers())})"
        ) from None
    module_name, _, class_name = target.partition(":")
    driver: Orchestrator = getattr(importlib.import_module(module_name), class_name)(**settings)
    return driver


__all__ = [
    "DATA_DIR",
    "HEALTH_PATH",
    "INSTANCE_LABEL",
    "MACHINE_PORT",
    "SLUG_LABEL",
    "TENANT_ID_ENV",
    "TENANT_LABEL",
    "TENANT_SLUG_ENV",
    "Action",
    "ActionKind",
    "Desired",
    "DesiredTenant",
    "Endpoint",
    "EngineError",
    "EngineUnavailable",
    "Health",
    "HealthTimeout",
    "ImageNotFound",
    "InvalidSpec",
    "Machine",
    "MachineBusy",
    "MachineCrashed",
    "MachineNotFound",
    "MachineSpec",
    "MachineState",
    "MachineTemplate",
    "NameConflict",
    "NetworkNotFound",
    "NoAddress",
    "Orchestrator",
    "OrchestratorError",
    "PortConflict",
    "UnknownDriver",
    "Volume",
    "drivers",
    "get_orchestrator",
    "health_url",
    "machine_name",
    "parse_memory",
    "plan",
    "volume_name",
    "wait_healthy",
]
