"""Which owner action each tenant state allows: pure, so the whole table is tested in one place.

An action either goes ahead, is a no-op (the tenant already is, or is becoming, what was asked:
repeating a request changes nothing), or is refused with 409 and a message that says what to wait
for. Deleting is never refused: an owner must always be able to get rid of a stuck tenant.
"""

from __future__ import annotations

from enum import StrEnum

from cial_app.errors import Conflict
from cial_app.tenants.states import TenantState


class Verb(StrEnum):
    START = "start"
    STOP = "stop"
    RESTART = "restart"
    DELETE = "delete"
    # The router's two: stop a tenant nobody used for its idle time, and start it again for the
    # request that arrives next. Neither changes what the owner wants (`desired` stays running).
    IDLE = "idle"
    WAKE = "wake"


# The verbs the owner has buttons for; the router's are not shown.
OWNER_VERBS = frozenset({Verb.START, Verb.STOP, Verb.RESTART, Verb.DELETE})


class Verdict(StrEnum):
    GO = "go"
    NOOP = "noop"


class StateForbids(Conflict):
    code = "state_forbids"


_S = TenantState
_GO, _NOOP = Verdict.GO, Verdict.NOOP

# verb -> state -> verdict, or the refusal's reason (completed with the slug).
_TABLE: dict[Verb, dict[TenantState, Verdict | str]] = {
    Verb.START: {
        _S.PROVISIONING: "is still being provisioned; it starts by itself once its container is up",
        _S.STARTING: _NOOP,
        _S.RUNNING: _NOOP,
        _S.STOPPING: "is stopping; start it again once it is stopped",
        _S.STOPPED: _GO,
        _S.ERROR: _GO,
        _S.DELETING: "is being deleted",
        # Idle tenants start like stopped ones; one being stopped for idleness starts once the
        # stop's engine call has finished (the job is cancelled, then the tenant brought up).
        _S.IDLING: _GO,
        _S.IDLE: _GO,
    },
    Verb.STOP: {
        _S.PROVISIONING: "is still being provisioned; stop it once it is running or in error",
        _S.STARTING: "is starting; stop it once it is running or in error",
        _S.RUNNING: _GO,
        _S.STOPPING: _NOOP,
        _S.STOPPED: _NOOP,
        _S.ERROR: _GO,
        _S.DELETING: "is being deleted",
        # Stopping an idle tenant for good: the machine is (or is becoming) stopped already; what
        # changes is that no request wakes it any more.
        _S.IDLING: _GO,
        _S.IDLE: _GO,
    },
    Verb.RESTART: {
        _S.PROVISIONING: "is still being provisioned; restart it once it is running or in error",
        _S.STARTING: "is already starting",
        _S.RUNNING: _GO,
        _S.STOPPING: "is stopping; start it once it is stopped",
        _S.STOPPED: _GO,
        _S.ERROR: _GO,
        _S.DELETING: "is being deleted",
        _S.IDLING: _GO,
        _S.IDLE: _GO,
    },
    Verb.DELETE: {state: (_NOOP if state is _S.DELETING else _GO) for state in TenantState},
    # Only a tenant that is serving can go idle; the router asks again after its next idle time
    # if it was refused.
    Verb.IDLE: {
        _S.PROVISIONING: "is being provisioned",
        _S.STARTING: "is starting",
        _S.RUNNING: _GO,
        _S.STOPPING: "is being stopped by its owner",
        _S.STOPPED: "is stopped by its owner",
        _S.ERROR: "is in error; the App is repairing it",
        _S.DELETING: "is being deleted",
        _S.IDLING: _NOOP,
        _S.IDLE: _NOOP,
    },
    # A request arrived: bring it up unless it is up or coming up. An error is tried again (the
    # request is someone waiting); a tenant its owner stopped stays stopped.
    Verb.WAKE: {
        _S.PROVISIONING: _NOOP,
        _S.STARTING: _NOOP,
        _S.RUNNING: _NOOP,
        _S.STOPPING: "is being stopped by its owner; they can start it from the admin",
        _S.STOPPED: "is stopped by its owner; they can start it from the admin",
        _S.ERROR: _GO,
        _S.DELETING: "is being deleted",
        _S.IDLING: _GO,
        _S.IDLE: _GO,
    },
}


def decide(verb: Verb, state: TenantState, slug: str) -> Verdict:
    """GO or NOOP for `verb` on a tenant in `state`; raises StateForbids (409) otherwise."""
    verdict = _TABLE[verb][state]
    if isinstance(verdict, Verdict):
        return verdict
    raise StateForbids(f"Cannot {verb.value} tenant '{slug}': it {verdict}.")


def allowed(state: TenantState) -> frozenset[Verb]:
    """The owner's verbs `state` lets through (no-ops included): the buttons worth showing."""
    return frozenset(
        verb for verb, row in _TABLE.items() if verb in OWNER_VERBS and isinstance(row[state], Verdict)
    )
