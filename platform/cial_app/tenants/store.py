"""Tenant rows and their state log, read and written as plain records.

Every state change goes through `transition`, which writes the new state and its
`tenant_events` row in one transaction, so the log never disagrees with the table. Every write
of a state or an address is announced (see `tenants.changes`): `pg_notify` in the same
transaction on Postgres, in-process observers after the commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Final

from piccolo.engine.postgres import PostgresEngine

from cial_app.db import for_update, utcnow, write_transaction
from cial_app.errors import Conflict, NotFound
from cial_app.orchestrator.base import Endpoint, Machine
from cial_app.tenants.changes import CHANNEL, ChangeKind, ChangeObservers, TenantChange
from cial_app.tenants.states import DesiredState, TenantState
from cial_app.tenants.tables import Tenant, TenantEvent


class _Keep(Enum):
    KEEP = "keep"


KEEP: Final = _Keep.KEEP
"""Passed to `transition` for a field that should stay as it is."""


class StateChanged(Conflict):
    """The tenant left the states a write expected: someone else moved it first."""

    code = "state_changed"


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a tenant's machine is: the engine's id for it, the upstream the router dials, and the
    port published on the host's loopback where the driver publishes one."""

    machine_id: str | None = None
    upstream: Endpoint | None = None
    published_port: int | None = None

    @classmethod
    def of(cls, machine: Machine) -> Placement:
        return cls(machine.id, machine.upstream, machine.published_port)


NOWHERE: Final = Placement()


@dataclass(frozen=True, slots=True)
class TenantRecord:
    id: uuid.UUID
    slug: str
    name: str
    state: TenantState
    owner_id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    state_reason: str | None = None
    desired: DesiredState = DesiredState.RUNNING
    placement: Placement = NOWHERE
    idle_after_seconds: int | None = None  # None: never stopped for being idle

    @property
    def machine_id(self) -> str | None:
        return self.placement.machine_id

    @property
    def upstream(self) -> Endpoint | None:
        return self.placement.upstream

    @property
    def published_port(self) -> int | None:
        return self.placement.published_port


@dataclass(frozen=True, slots=True)
class TenantEventRecord:
    id: int
    tenant_id: uuid.UUID
    from_state: TenantState | None
    to_state: TenantState
    reason: str
    created_at: datetime


class TenantStore:
    def __init__(
        self, clock: Callable[[], datetime] = utcnow, observers: ChangeObservers | None = None
    ) -> None:
        self._clock = clock
        self.observers = observers or ChangeObservers()

    # Plain select() rows, not Table objects: building an object per row made a list of 1,000
    # tenants several times slower.
    async def list_all(self) -> list[TenantRecord]:
        rows = await Tenant.select().order_by(Tenant.created_at, Tenant.slug).run()
        return [_record(row) for row in rows]

    async def by_slug(self, slug: str) -> TenantRecord | None:
        row = await Tenant.select().where(Tenant.slug == slug).first().run()
        return None if row is None else _record(row)

    async def by_id(self, tenant_id: uuid.UUID) -> TenantRecord | None:
        row = await Tenant.select().where(Tenant.id == tenant_id).first().run()
        return None if row is None else _record(row)

    async def insert(
        self,
        *,
        slug: str,
        name: str,
        owner_id: uuid.UUID,
        state: TenantState,
        reason: str,
        tenant_id: uuid.UUID | None = None,
        idle_after_seconds: int | None = None,
    ) -> TenantRecord:
        """Insert a tenant and the event for its first state. Raises the DB's unique violation
        when the slug (or the id) is taken (see `cial_app.db.is_unique_violation`). `tenant_id`
        is given only to restore a tenant whose machine and volume carry that id."""
        now = self._clock()
        record = TenantRecord(
            id=tenant_id or uuid.uuid4(),
            slug=slug,
            name=name,
            state=state,
            owner_id=owner_id,
            created_at=now,
            updated_at=now,
            state_reason=reason,
            desired=DesiredState.RUNNING,
            idle_after_seconds=idle_after_seconds,
        )
        row = Tenant(
            id=record.id,
            slug=slug,
            name=name,
            state=state.value,
            state_reason=reason,
            desired_state=record.desired.value,
            idle_after_seconds=idle_after_seconds,
            owner=owner_id,
            created_at=now,
            updated_at=now,
        )
        change = _change(ChangeKind.CREATED, record)
        async with write_transaction(Tenant._meta.db):
            await Tenant.insert(row).run()
            await TenantEvent.insert(
                TenantEvent(
                    tenant=record.id, from_state=None, to_state=state.value, reason=reason, created_at=now
                )
            ).run()
            await _notify(change)
        self.observers.announce(change)
        return record

    async def transition(
        self,
        tenant_id: uuid.UUID,
        to_state: TenantState,
        reason: str,
        *,
        placement: Placement | _Keep = KEEP,
        desired: DesiredState | _Keep = KEEP,
        expect: Collection[TenantState] | None = None,
    ) -> TenantRecord:
        """Move a tenant to `to_state` and log why; raises NotFound when the tenant is gone, and
        StateChanged when `expect` is given and the tenant is in none of those states."""
        engine = Tenant._meta.db
        async with write_transaction(engine):
            current = (
                await for_update(Tenant.select(Tenant.state).where(Tenant.id == tenant_id), engine)
                .first()
                .run()
            )
            if current is None:
                raise NotFound(f"Tenant {tenant_id} does not exist.")
            if expect is not None and TenantState(current["state"]) not in expect:
                raise StateChanged(f"Tenant {tenant_id} is {current['state']} now; nothing was changed.")
            now = self._clock()
            values: dict[Any, Any] = {
                Tenant.state: to_state.value,
                Tenant.state_reason: reason,
                Tenant.updated_at: now,
            }
            if desired is not KEEP:
                values[Tenant.desired_state] = desired.value
            if placement is not KEEP:
                values.update(_placement_values(placement))
            await Tenant.update(values).where(Tenant.id == tenant_id).run()
            await TenantEvent.insert(
                TenantEvent(
                    tenant=tenant_id,
                    from_state=current["state"],
                    to_state=to_state.value,
                    reason=reason,
                    created_at=now,
                )
            ).run()
            record = await self.by_id(tenant_id)
            if record is None:
                raise NotFound(f"Tenant {tenant_id} does not exist.")
            change = _change(ChangeKind.STATE, record)
            await _notify(change)
        self.observers.announce(change)
        return record

    async def set_placement(self, tenant_id: uuid.UUID, placement: Placement) -> None:
        """Record where the tenant's machine is now, its state unchanged (so no event): the engine
        may restart a machine by itself, and a published port changes on every start."""
        async with write_transaction(Tenant._meta.db):
            await (
                Tenant.update({**_placement_values(placement), Tenant.updated_at: self._clock()})
                .where(Tenant.id == tenant_id)
                .run()
            )
            record = await self.by_id(tenant_id)
            if record is None:
                return
            change = _change(ChangeKind.ADDRESS, record)
            await _notify(change)
        self.observers.announce(change)

    async def set_idle_after(self, tenant_id: uuid.UUID, seconds: int | None) -> TenantRecord:
        """Change how long the tenant may go unused before the router stops it (None: never).
        Announced like an address change, so the router's timer follows at once."""
        async with write_transaction(Tenant._meta.db):
            await (
                Tenant.update({Tenant.idle_after_seconds: seconds, Tenant.updated_at: self._clock()})
                .where(Tenant.id == tenant_id)
                .run()
            )
            record = await self.by_id(tenant_id)
            if record is None:
                raise NotFound(f"Tenant {tenant_id} does not exist.")
            change = _change(ChangeKind.ADDRESS, record)
            await _notify(change)
        self.observers.announce(change)
        return record

    async def delete(self, tenant_id: uuid.UUID) -> None:
        """Forget the tenant, its state log included: the log is the tenant's own history, shown on
        its page, and nothing shows a deleted tenant. The App's log keeps one line of the deletion."""
        async with write_transaction(Tenant._meta.db):
            record = await self.by_id(tenant_id)
            await TenantEvent.delete().where(TenantEvent.tenant == tenant_id).run()
            await Tenant.delete().where(Tenant.id == tenant_id).run()
            change = None if record is None else _change(ChangeKind.DELETED, record, gone=True)
            if change is not None:
                await _notify(change)
        if change is not None:
            self.observers.announce(change)

    async def events(self, tenant_id: uuid.UUID, *, limit: int = 50) -> list[TenantEventRecord]:
        """The tenant's most recent state changes, newest first."""
        rows = (
            await TenantEvent.objects()
            .where(TenantEvent.tenant == tenant_id)
            .order_by(TenantEvent.created_at, TenantEvent.id, ascending=False)
            .limit(limit)
            .run()
        )
        return [
            TenantEventRecord(
                id=row.id,
                tenant_id=tenant_id,
                from_state=None if row.from_state is None else TenantState(row.from_state),
                to_state=TenantState(row.to_state),
                reason=row.reason,
                created_at=row.created_at,
            )
            for row in rows
        ]


def _placement_values(placement: Placement) -> dict[Any, Any]:
    upstream = placement.upstream
    return {
        Tenant.machine_id: placement.machine_id,
        Tenant.upstream_host: None if upstream is None else upstream.host,
        Tenant.upstream_port: None if upstream is None else upstream.port,
        Tenant.published_port: placement.published_port,
    }


def _change(kind: ChangeKind, record: TenantRecord, *, gone: bool = False) -> TenantChange:
    upstream = record.upstream
    return TenantChange(
        kind=kind,
        tenant_id=record.id,
        slug=record.slug,
        state=None if gone else record.state.value,
        upstream_host=None if gone or upstream is None else upstream.host,
        upstream_port=None if gone or upstream is None else upstream.port,
        idle_after_seconds=None if gone else record.idle_after_seconds,
    )


async def _notify(change: TenantChange) -> None:
    """Inside the writing transaction: Postgres delivers it to listeners when (and if) it commits."""
    if isinstance(Tenant._meta.db, PostgresEngine):
        await Tenant.raw("SELECT pg_notify({}, {})", CHANNEL, change.to_json()).run()


def _record(row: Mapping[str, Any]) -> TenantRecord:
    """A record from a select() row, keyed by column name (so `owner_id`, not `owner`)."""
    host, port = row["upstream_host"], row["upstream_port"]
    return TenantRecord(
        id=row["id"],
        slug=row["slug"],
        name=row["name"],
        state=TenantState(row["state"]),
        owner_id=row["owner_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        state_reason=row["state_reason"],
        desired=DesiredState(row["desired_state"]),
        placement=Placement(
            machine_id=row["machine_id"],
            upstream=None if host is None or port is None else Endpoint(host, port),
            published_port=row["published_port"],
        ),
        idle_after_seconds=row["idle_after_seconds"],
    )
