"""Tenants and the log of their state changes."""

from __future__ import annotations

from piccolo.columns import UUID, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from cial_app.auth.tables import User


class Tenant(Table, tablename="tenants"):
    # A UUID, never reused: Docker resources are named and labelled after it, and a reused integer
    # could hand a new tenant an old tenant's volume.
    id = UUID(primary_key=True)
    slug = Varchar(length=40, unique=True)
    name = Varchar(length=100)
    # Where its machine is (see tenants.store.Placement): the engine's id for it, the upstream
    # the router dials (set while it runs), and the port published on the host's loopback.
    machine_id = Varchar(length=128, null=True, default=None)
    upstream_host = Varchar(length=255, null=True, default=None)
    upstream_port = Integer(null=True, default=None)
    published_port = Integer(null=True, default=None)
    # A TenantState value. Not a DB enum/choices, so a new state needs no migration.
    state = Varchar(length=20)
    # Why the tenant is in its state (an error's cause above all): the admin shows it beside the state.
    state_reason = Text(null=True, default=None)
    # A DesiredState value: what the owner asked for. The reconciler works from this, not from
    # `state`, which only says where the tenant is now.
    desired_state = Varchar(length=20, default="running")
    # After this many seconds with no traffic through the router, the router has it stopped
    # (state `idle`) and the next request starts it again. NULL: never.
    idle_after_seconds = Integer(null=True, default=None)
    owner = ForeignKey(references=User, on_delete=OnDelete.restrict, db_column_name="owner_id", null=False)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class TenantEvent(Table, tablename="tenant_events"):
    id = Serial(primary_key=True)
    tenant = ForeignKey(
        references=Tenant, on_delete=OnDelete.cascade, db_column_name="tenant_id", null=False, index=True
    )
    from_state = Varchar(length=20, null=True, default=None)
    to_state = Varchar(length=20)
    reason = Text()
    created_at = Timestamptz(index=True)
