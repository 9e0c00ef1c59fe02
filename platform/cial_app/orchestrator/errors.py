"""The orchestrator's typed errors. Each carries a `reason` written for the person who reads it
in the admin (a tenant's `error` state shows it) and a stable `code` for programs."""

from __future__ import annotations

from typing import ClassVar


class OrchestratorError(Exception):
    """Base of every orchestrator failure. `reason` is written for the person who reads it in the
    admin (a tenant's `error` state shows it); `code` is stable, for programs."""

    code: ClassVar[str] = "orchestrator_error"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EngineUnavailable(OrchestratorError):
    """The container engine cannot be reached (socket missing, daemon down, timeout)."""

    code = "engine_unavailable"


class EngineError(OrchestratorError):
    """The engine answered but refused; the reason quotes its explanation."""

    code = "engine_error"


class ImageNotFound(OrchestratorError):
    code = "image_not_found"

    def __init__(self, image: str, hint: str = "", *, reason: str | None = None) -> None:
        super().__init__(reason or f"image {image!r} was not found{hint}")
        self.image = image


class NetworkNotFound(OrchestratorError):
    code = "network_not_found"

    def __init__(self, network: str) -> None:
        super().__init__(f"network {network!r} does not exist (check CIAL_DOCKER_NETWORK)")
        self.network = network


class MachineNotFound(OrchestratorError):
    code = "machine_not_found"

    def __init__(self, tenant_id: str) -> None:
        super().__init__(f"tenant {tenant_id} has no container (create it first)")
        self.tenant_id = tenant_id


class PortConflict(OrchestratorError):
    code = "port_conflict"


class NameConflict(OrchestratorError):
    """A resource with the name the recipe wants exists and is not this tenant's: never adopted."""

    code = "name_conflict"


class InvalidSpec(OrchestratorError):
    code = "invalid_spec"


class NoAddress(OrchestratorError):
    """The machine cannot be reached the way asked (not running, no published port, no network)."""

    code = "no_address"


class HealthTimeout(OrchestratorError):
    code = "health_timeout"


class MachineCrashed(OrchestratorError):
    """The machine stopped or keeps restarting while we waited for it to become healthy."""

    code = "machine_crashed"


class UnknownDriver(OrchestratorError):
    code = "unknown_driver"


class MachineBusy(OrchestratorError):
    """Another operation holds the machine (a Fly lease) and did not let go while we waited."""

    code = "machine_busy"
