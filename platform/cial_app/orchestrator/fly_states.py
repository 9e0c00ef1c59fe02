"""Fly Machine states onto ours: one pure table (tests/orchestrator/test_fly_states.py checks that
every state Fly documents is in it), and the reading of a machine's checks into `Health`.

Fly's states are documented in "Machine states" of the Machines API guide; a state Fly adds later
is not guessed at: it maps to DEAD with the raw name kept as the machine's error, so an admin sees
it and nothing adopts a machine we do not understand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .base import Health, MachineState

# Fly state -> ours. Why each non-obvious one:
#   starting / replacing: on its way up with nobody's help -> RESTARTING (is_up, not yet serving)
#   stopping: asked to stop, will be STOPPED -> STOPPED (not up: the router must not send to it)
#   suspending / suspended: memory snapshot kept, resumes on start -> PAUSED
#   replaced: an old version after an update, gone for good -> REMOVING
#   destroyed: no machine any more (a list may still show it briefly) -> ABSENT
#   failed / launch_failed: Fly could not run it; only replacing it helps -> DEAD
FLY_STATES: Mapping[str, MachineState] = {
    "created": MachineState.CREATED,
    "starting": MachineState.RESTARTING,
    "started": MachineState.RUNNING,
    "stopping": MachineState.STOPPED,
    "stopped": MachineState.STOPPED,
    "suspending": MachineState.PAUSED,
    "suspended": MachineState.PAUSED,
    "replacing": MachineState.RESTARTING,
    "replaced": MachineState.REMOVING,
    "destroying": MachineState.REMOVING,
    "destroyed": MachineState.ABSENT,
    "failed": MachineState.DEAD,
    "launch_failed": MachineState.DEAD,
}

# Fly's `wait` endpoint accepts only these as targets.
WAITABLE = frozenset({"started", "stopped", "suspended", "destroyed"})


def state_of(fly_state: str) -> MachineState:
    """Ours for a Fly state; DEAD for one this table does not know (see the module's docstring)."""
    return FLY_STATES.get(fly_state, MachineState.DEAD)


def health_of(checks: Iterable[Mapping[str, Any]] | None) -> Health:
    """Fly runs the machine's checks (ours: HTTP GET of the tenant's health endpoint) and reports
    each as passing, warning or critical. All passing -> HEALTHY; any critical -> UNHEALTHY;
    otherwise (none reported yet, or warnings) -> STARTING; no checks at all -> UNKNOWN."""
    statuses = [str(check.get("status", "")) for check in checks or ()]
    if not statuses:
        return Health.UNKNOWN
    if any(status == "critical" for status in statuses):
        return Health.UNHEALTHY
    if all(status == "passing" for status in statuses):
        return Health.HEALTHY
    return Health.STARTING
