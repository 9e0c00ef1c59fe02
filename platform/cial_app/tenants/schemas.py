"""Tenant API bodies. Types only: the rules live in `tenants.rules`, so the API and the admin
form refuse the same input with the same message."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from cial_app.tenants import rules
from cial_app.tenants.idle import IDLE_MAX_SECONDS, IDLE_MIN_SECONDS
from cial_app.tenants.states import DesiredState, TenantState
from cial_app.tenants.store import TenantEventRecord, TenantRecord

_RESERVED = ", ".join(sorted(rules.RESERVED_SLUGS))


class TenantCreate(msgspec.Struct):
    # The constraints are documented for clients and fuzzers ("extra" reaches the OpenAPI
    # schema only); msgspec does not enforce them, so every rule is checked, and explained, once.
    slug: Annotated[
        str,
        msgspec.Meta(
            description=(
                f"The tenant's host label ({{slug}}.localhost): {rules.SLUG_PATTERN}, not starting or ending "
                f"with '-', not one of: {_RESERVED}"
            ),
            examples=["acme"],
            extra_json_schema={
                "extra": {
                    "pattern": rules.SLUG_PATTERN,
                    "minLength": rules.SLUG_MIN,
                    "maxLength": rules.SLUG_MAX,
                }
            },
        ),
    ]
    name: Annotated[
        str,
        msgspec.Meta(
            description=f"Display name, 1 to {rules.NAME_MAX} characters",
            examples=["Acme Inc."],
            extra_json_schema={"extra": {"minLength": 1, "maxLength": rules.NAME_MAX}},
        ),
    ]


class IdleTime(msgspec.Struct):
    idle_after_seconds: Annotated[
        int | None,
        msgspec.Meta(
            description=(
                "Seconds without traffic through the router after which the tenant is stopped "
                f"(state 'idle') until the next request: {IDLE_MIN_SECONDS} to {IDLE_MAX_SECONDS}, "
                "or null for never"
            ),
            examples=[900],
        ),
    ]


class TenantOut(msgspec.Struct):
    id: uuid.UUID
    slug: str
    name: str
    state: TenantState
    # Why it is in that state; for `error`, the cause to fix.
    state_reason: str | None
    # What the owner asked for; the App keeps the container there.
    desired_state: DesiredState
    # The engine's id for the tenant's machine (a container id with Docker).
    machine_id: str | None
    # The tenant's port 8080, published on 127.0.0.1 of the Docker host; changes on every start.
    # None where the driver publishes nothing.
    published_port: int | None
    # Where a browser opens it, through the router: http://{slug}.localhost:8080 (None until running).
    url: str | None
    created_at: datetime
    updated_at: datetime
    # Seconds without traffic after which the router has it stopped (state `idle`); None: never.
    idle_after_seconds: int | None = None

    @classmethod
    def of(cls, tenant: TenantRecord, url_template: str) -> TenantOut:
        # An idle tenant answers at its URL too: the router starts it for the request.
        running = tenant.state in (TenantState.RUNNING, TenantState.IDLE, TenantState.IDLING)
        return cls(
            id=tenant.id,
            slug=tenant.slug,
            name=tenant.name,
            state=tenant.state,
            state_reason=tenant.state_reason,
            desired_state=tenant.desired,
            machine_id=tenant.machine_id,
            published_port=tenant.published_port,
            url=url_template.replace("{slug}", tenant.slug) if running else None,
            created_at=tenant.created_at,
            updated_at=tenant.updated_at,
            idle_after_seconds=tenant.idle_after_seconds,
        )


class TenantEventOut(msgspec.Struct):
    from_state: TenantState | None
    to_state: TenantState
    reason: str
    created_at: datetime

    @classmethod
    def of(cls, event: TenantEventRecord) -> TenantEventOut:
        return cls(
            from_state=event.from_state,
            to_state=event.to_state,
            reason=event.reason,
            created_at=event.created_at,
        )


class TenantLogsOut(msgspec.Struct):
    lines: list[str]
    # Why there are no lines, when there is a reason (no container, engine unreachable).
    note: str | None = None
