"""Reading the Docker engine's inspect data into the orchestrator's values (`Machine`, `Volume`).

Pure functions on plain dictionaries, so each rule (which exit means "stopped", which address the
router dials) is tested without an engine.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from docker.models.volumes import Volume as DockerVolume

from .base import (
    DATA_DIR,
    MACHINE_PORT,
    SLUG_LABEL,
    TENANT_LABEL,
    Endpoint,
    Health,
    Machine,
    MachineState,
    Volume,
)

PORT_KEY = f"{MACHINE_PORT}/tcp"

# Exit codes that mean "it was asked to stop": 0, SIGTERM (143) and the SIGKILL a stop sends after
# its grace period (137, unless the kernel's OOM killer sent it).
_STOP_EXIT_CODES = frozenset({0, 143, 137})


def machine_of(attrs: dict[str, Any]) -> Machine:
    config = attrs.get("Config") or {}
    labels: dict[str, str] = config.get("Labels") or {}
    state: dict[str, Any] = attrs.get("State") or {}
    network = attrs.get("NetworkSettings") or {}
    name = str(attrs.get("Name", "")).lstrip("/") or None
    mounts = attrs.get("Mounts") or []
    machine_state = _state(state)
    return Machine(
        tenant_id=labels.get(TENANT_LABEL, ""),
        slug=labels.get(SLUG_LABEL),
        state=machine_state,
        id=attrs.get("Id"),
        name=name,
        image=config.get("Image"),
        upstream=_upstream(name, network.get("Networks") or {}) if machine_state.is_up else None,
        published_port=_published_port(network.get("Ports") or {}),
        health=_health(state),
        exit_code=state.get("ExitCode") if state.get("Status") in ("exited", "dead") else None,
        restart_count=int(attrs.get("RestartCount") or 0),
        error=_error(state),
        volume=next((m.get("Name") for m in mounts if m.get("Destination") == DATA_DIR), None),
        created_at=timestamp(attrs.get("Created")),
    )


def _state(state: dict[str, Any]) -> MachineState:
    status = state.get("Status")
    if status == "exited":
        code = state.get("ExitCode")
        asked = code in _STOP_EXIT_CODES and not state.get("OOMKilled")
        return MachineState.STOPPED if asked else MachineState.EXITED
    return {
        "created": MachineState.CREATED,
        "running": MachineState.RUNNING,
        "restarting": MachineState.RESTARTING,
        "paused": MachineState.PAUSED,
        "removing": MachineState.REMOVING,
        "dead": MachineState.DEAD,
    }.get(str(status), MachineState.DEAD)


def _health(state: dict[str, Any]) -> Health:
    status = (state.get("Health") or {}).get("Status")
    try:
        return Health(str(status))
    except ValueError:
        return Health.UNKNOWN


def _error(state: dict[str, Any]) -> str | None:
    if state.get("OOMKilled"):
        return "killed: out of memory (raise the memory limit)"
    return state.get("Error") or None


def _published_port(ports: dict[str, Any]) -> int | None:
    bindings = ports.get(PORT_KEY) or []
    for binding in bindings:
        if binding.get("HostIp") in ("127.0.0.1", "") and binding.get("HostPort"):
            return int(binding["HostPort"])
    return None


def _upstream(name: str | None, networks: dict[str, Any]) -> Endpoint | None:
    # On a user-defined network Docker's DNS resolves the container's name; on the default bridge
    # only its address works (reachable from the host, not from other containers by name). A
    # container that is not running has neither.
    if name and any(net not in ("bridge", "host", "none") for net in networks):
        return Endpoint(name, MACHINE_PORT)
    address = (networks.get("bridge") or {}).get("IPAddress")
    return Endpoint(address, MACHINE_PORT) if address else None


def volume_of(volume: DockerVolume) -> Volume:
    labels = volume.attrs.get("Labels") or {}
    return Volume(
        name=str(volume.name),
        tenant_id=labels.get(TENANT_LABEL, ""),
        slug=labels.get(SLUG_LABEL),
        # Docker reports a volume's creation to the second; rounding up keeps the reconciler's
        # "created after the tenants were read" guard on the safe side (keep, retry next round).
        created_at=timestamp(volume.attrs.get("CreatedAt"), round_up=True),
    )


def timestamp(value: object, *, round_up: bool = False) -> datetime | None:
    """Docker's RFC 3339 with nanoseconds -> an aware datetime (Python parses microseconds)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed + timedelta(seconds=1) if round_up and not dot else parsed
