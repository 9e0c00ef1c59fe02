"""Announcing tenant changes: every committed change of a tenant's state or address is told to
whoever listens, so the router's route table follows the database within a second.

On Postgres the store calls `pg_notify` inside the write's own transaction, so a listener in
another process (the router, with asyncpg's LISTEN) hears of a change exactly when it commits,
never of one that rolled back. In-process observers (the SQLite App, tests) are called after the
commit. A notification is a hint with enough to act on; a listener that may have missed one (a
dropped connection) re-reads the table.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum

log = logging.getLogger(__name__)

# The LISTEN/NOTIFY channel; Postgres caps a payload at 8000 bytes, far above what one takes.
CHANNEL = "cial_tenant_changes"


class ChangeKind(StrEnum):
    CREATED = "created"
    STATE = "state"  # its state changed (the address may have changed with it)
    # only where its machine is (a restart by the engine), or its idle time: nothing of its state
    ADDRESS = "address"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class TenantChange:
    kind: ChangeKind
    tenant_id: uuid.UUID
    slug: str
    state: str | None  # None once deleted
    upstream_host: str | None = None
    upstream_port: int | None = None
    idle_after_seconds: int | None = None  # the router's idle timer for it (None: never)

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "tenant_id": str(self.tenant_id)}, separators=(",", ":"))

    @classmethod
    def from_json(cls, payload: str) -> TenantChange:
        data = json.loads(payload)
        return cls(
            kind=ChangeKind(data["kind"]),
            tenant_id=uuid.UUID(data["tenant_id"]),
            slug=str(data["slug"]),
            state=data.get("state"),
            upstream_host=data.get("upstream_host"),
            upstream_port=data.get("upstream_port"),
            idle_after_seconds=data.get("idle_after_seconds"),
        )


Observer = Callable[[TenantChange], None]


class ChangeObservers:
    """In-process observers, called synchronously after each commit (keep them cheap)."""

    def __init__(self) -> None:
        self._observers: list[Observer] = []

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Add `observer`; returns the function that removes it again."""
        self._observers.append(observer)
        return lambda: self._observers.remove(observer)

    def announce(self, change: TenantChange) -> None:
        for observer in list(self._observers):
            try:
                observer(change)
            except Exception:
                # One faulty observer must not undo a committed write nor starve the others.
                log.exception("tenant change observer failed on %s %s", change.kind, change.slug)
