"""What a caller may say, checked before anything reaches the driver: a tenant id (a UUID, as the
App's ids are), a slug, the tenant's own environment (bounded; `CIAL_*` names only, never the
identity the service sets), an engine id and a tenant volume's name. Anything else in a body is
refused: there is no field for an image, a mount, a capability or a privileged flag."""

from __future__ import annotations

import re

import msgspec

from cial_app.orchestrator import InvalidSpec

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# The App's tenant environment is its SSO key, key id, issuer and admin URL (sso/handover.py).
# Only CIAL_* names: the App cannot set LD_PRELOAD, PATH or PYTHONPATH for a tenant's root
# supervisor, nor TENANT_ID / TENANT_SLUG (the service sets those from the id and slug).
_ENV_NAME = re.compile(r"^CIAL_[A-Z0-9_]{1,60}$")
_MACHINE_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
_VOLUME = re.compile(r"^cial-tenant-[0-9a-f-]{36}-data$")
MAX_ENV = 32
MAX_ENV_VALUE = 4096
MAX_LOG_LINES = 10_000


class CreateMachine(msgspec.Struct, forbid_unknown_fields=True):
    slug: str
    env: dict[str, str] = {}


def tenant_id(value: str) -> str:
    if not _UUID.match(value):
        raise InvalidSpec(f"tenant id {value[:80]!r} is not a UUID")
    return value


def machine_id(value: str) -> str:
    if not _MACHINE_ID.match(value):
        raise InvalidSpec(f"machine id {value[:80]!r} is not an engine id")
    return value


def volume(value: str) -> str:
    if not _VOLUME.match(value):
        raise InvalidSpec(f"volume {value[:80]!r} is not a tenant's volume name")
    return value


def tenant_env(env: dict[str, str]) -> dict[str, str]:
    if len(env) > MAX_ENV:
        raise InvalidSpec(f"a tenant's environment holds at most {MAX_ENV} variables, got {len(env)}")
    for name, value in env.items():
        if not _ENV_NAME.match(name):
            raise InvalidSpec(f"environment variable {name[:80]!r}: only CIAL_* names may be set")
        if len(value) > MAX_ENV_VALUE or "\x00" in value:
            raise InvalidSpec(f"environment variable {name}: at most {MAX_ENV_VALUE} characters, no NUL")
    return env


def tail(value: int) -> int:
    if not 0 <= value <= MAX_LOG_LINES:
        raise InvalidSpec(f"tail must be between 0 and {MAX_LOG_LINES}")
    return value
