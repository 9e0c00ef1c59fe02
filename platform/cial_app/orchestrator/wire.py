"""The orchestrator service's wire format, shared by the service and the `remote` driver: value
types to and from JSON, and typed errors to and from `{"error": code, "reason": ...}`.

Kept free of any web framework and HTTP client, so both ends agree on one codec and a typed error
raised by the Docker driver in the service reaches the App as the same class with the same reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .base import Endpoint, Health, Machine, MachineState, Volume
from .errors import (
    EngineError,
    EngineUnavailable,
    HealthTimeout,
    ImageNotFound,
    InvalidSpec,
    MachineCrashed,
    MachineNotFound,
    NameConflict,
    NetworkNotFound,
    NoAddress,
    OrchestratorError,
    PortConflict,
    UnknownDriver,
)

# code -> (class, HTTP status). The status is for people reading logs and for generic clients;
# the remote driver decides by the code alone.
_ERRORS: dict[str, tuple[type[OrchestratorError], int]] = {
    cls.code: (cls, status)
    for cls, status in (
        (OrchestratorError, 500),
        (EngineUnavailable, 503),
        (EngineError, 502),
        (ImageNotFound, 424),
        (NetworkNotFound, 424),
        (MachineNotFound, 404),
        (PortConflict, 409),
        (NameConflict, 409),
        (InvalidSpec, 422),
        (NoAddress, 409),
        (HealthTimeout, 504),
        (MachineCrashed, 409),
        (UnknownDriver, 500),
    )
}


def error_status(error: OrchestratorError) -> int:
    return _ERRORS.get(error.code, (OrchestratorError, 500))[1]


def error_body(error: OrchestratorError) -> dict[str, str]:
    return {"error": error.code, "reason": error.reason}


def error_from(body: Any) -> OrchestratorError | None:
    """The typed error an error body names, with its reason; None if `body` is not one."""
    if not isinstance(body, dict):
        return None
    code, reason = body.get("error"), body.get("reason")
    if not isinstance(code, str) or not isinstance(reason, str):
        return None
    cls = _ERRORS.get(code, (OrchestratorError, 500))[0]
    # The subclasses' constructors take what they format their reason from; the reason here is
    # already formatted, so it is set as the base class sets it.
    error = cls.__new__(cls)
    OrchestratorError.__init__(error, reason)
    return error


def machine_to_json(machine: Machine) -> dict[str, Any]:
    return {
        "tenant_id": machine.tenant_id,
        "state": machine.state.value,
        "slug": machine.slug,
        "id": machine.id,
        "name": machine.name,
        "image": machine.image,
        "upstream": None
        if machine.upstream is None
        else {"host": machine.upstream.host, "port": machine.upstream.port},
        "published_port": machine.published_port,
        "health": machine.health.value,
        "exit_code": machine.exit_code,
        "restart_count": machine.restart_count,
        "error": machine.error,
        "volume": machine.volume,
        "created_at": _time_to_json(machine.created_at),
    }


def machine_from_json(data: dict[str, Any]) -> Machine:
    upstream = data.get("upstream")
    return Machine(
        tenant_id=str(data["tenant_id"]),
        state=MachineState(data["state"]),
        slug=data.get("slug"),
        id=data.get("id"),
        name=data.get("name"),
        image=data.get("image"),
        upstream=None if upstream is None else Endpoint(str(upstream["host"]), int(upstream["port"])),
        published_port=data.get("published_port"),
        health=Health(data.get("health", Health.UNKNOWN.value)),
        exit_code=data.get("exit_code"),
        restart_count=int(data.get("restart_count", 0)),
        error=data.get("error"),
        volume=data.get("volume"),
        created_at=_time_from_json(data.get("created_at")),
    )


def volume_to_json(volume: Volume) -> dict[str, Any]:
    return {
        "name": volume.name,
        "tenant_id": volume.tenant_id,
        "slug": volume.slug,
        "created_at": _time_to_json(volume.created_at),
    }


def volume_from_json(data: dict[str, Any]) -> Volume:
    return Volume(
        name=str(data["name"]),
        tenant_id=str(data["tenant_id"]),
        slug=data.get("slug"),
        created_at=_time_from_json(data.get("created_at")),
    )


def _time_to_json(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time_from_json(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))
