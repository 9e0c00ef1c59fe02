"""A tenant's lifecycle states; plain values, so the orchestrator can use them without the ORM."""

from __future__ import annotations

from enum import StrEnum

from cial_app.orchestrator.base import Desired


class TenantState(StrEnum):
    PROVISIONING = "provisioning"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    ERROR = "error"
    DELETING = "deleting"


# What the owner wants of a tenant; the reconciler brings the engine to it and keeps it there.
# One enum with the orchestrator's, so no value is ever converted between two.
DesiredState = Desired


# A tenant in one of these is being brought up or down by a background task.
IN_FLIGHT = frozenset(
    {TenantState.PROVISIONING, TenantState.STARTING, TenantState.STOPPING, TenantState.DELETING}
)
