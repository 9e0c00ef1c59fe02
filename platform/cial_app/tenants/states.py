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
    # Stopped because nobody used it for its idle time (the router asked); the next request
    # through the router starts it again. The owner still wants it running (`desired` stays
    # `running`), which is how it differs from `stopped`.
    IDLING = "idling"  # being stopped for being idle
    IDLE = "idle"


# What the owner wants of a tenant; the reconciler brings the engine to it and keeps it there.
# One enum with the orchestrator's, so no value is ever converted between two.
DesiredState = Desired


# A tenant in one of these is being brought up or down by a background task.
IN_FLIGHT = frozenset(
    {
        TenantState.PROVISIONING,
        TenantState.STARTING,
        TenantState.STOPPING,
        TenantState.IDLING,
        TenantState.DELETING,
    }
)
