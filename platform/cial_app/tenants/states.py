"""A tenant's lifecycle states; plain values, so the orchestrator can use them without the ORM."""

from __future__ import annotations

from enum import StrEnum


class TenantState(StrEnum):
    PROVISIONING = "provisioning"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    ERROR = "error"
    DELETING = "deleting"
