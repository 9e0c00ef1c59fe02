"""Which tenant states can be opened: pure, one table, like `provisioning.rules`.

Only a `running` tenant has a Core to take the token (or an idle one: the router wakes it for the
request), and the token lives a minute: minting one for a tenant that is not up would only hand
the browser a dead link. Each refusal says what the
owner has to do or wait for before "Open" works.
"""

from __future__ import annotations

from cial_app.provisioning.rules import StateForbids
from cial_app.tenants.states import TenantState

_S = TenantState

# state -> None (opens) or why not (completed with the slug).
_WHY_NOT: dict[TenantState, str | None] = {
    _S.RUNNING: None,
    _S.PROVISIONING: "is still being provisioned; wait until it is running",
    _S.STARTING: "is starting; wait until it is running",
    _S.STOPPING: "is stopping; start it once it is stopped and wait until it is running",
    _S.STOPPED: "is stopped; start it and wait until it is running",
    _S.ERROR: "is in error; start it again and wait until it is running",
    _S.DELETING: "is being deleted; only a running tenant can be opened",
    # The router holds the browser's request while it wakes the tenant (router.idle), well
    # within the token's minute: opening is what wakes it.
    _S.IDLING: None,
    _S.IDLE: None,
}


class NotRunning(StateForbids):
    """409, with the same code as every other refusal by state."""


def why_not(state: TenantState) -> str | None:
    """None when a tenant in `state` can be opened, else the reason (for the page to show)."""
    return _WHY_NOT[state]


def check_can_open(state: TenantState, slug: str) -> None:
    reason = _WHY_NOT[state]
    if reason is not None:
        raise NotRunning(f"Cannot open tenant '{slug}': it {reason}.")
