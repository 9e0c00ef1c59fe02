"""The App's settings, read once from the environment into a frozen value."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cial_app.errors import ConfigurationError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True, slots=True)
class Settings:
    # Absent means SQLite at `sqlite_path`: the App then runs in-process with no Docker at all.
    database_url: str | None = None
    sqlite_path: Path = Path("cial-app.sqlite3")
    # Postgres only. Off: one connection per query, for an external pooler in front of Postgres
    # or callers on more than one event loop (the tests); slower.
    database_pool: bool = True
    host: str = "0.0.0.0"
    port: int = 3100
    session_ttl_seconds: int = 7 * 24 * 3600
    # Local mode is plain HTTP on localhost; a Secure cookie would never come back.
    cookie_secure: bool = False
    # Sign-in throttle: after this many failures inside the window, answer 429 until the oldest
    # failure leaves it. Per e-mail address, and (looser) per client address.
    signin_max_failures: int = 5
    signin_max_failures_per_client: int = 30
    signin_window_seconds: int = 60
    # Origins besides the request's own that may post to the App (e.g. behind a TLS terminator).
    trusted_origins: frozenset[str] = field(default_factory=frozenset)
    tenant_image: str = "cial-tenant:dev"
    docker_network: str | None = None
    sso_secret: str | None = None
    debug: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            sqlite_path=Path(env.get("CIAL_SQLITE_PATH") or defaults.sqlite_path),
            database_pool=_bool(env, "CIAL_DATABASE_POOL", defaults.database_pool),
            host=env.get("CIAL_APP_HOST") or defaults.host,
            port=_int(env, "CIAL_APP_PORT", defaults.port, minimum=1, maximum=65535),
            session_ttl_seconds=_int(
                env, "CIAL_SESSION_TTL_SECONDS", defaults.session_ttl_seconds, minimum=60
            ),
            cookie_secure=_bool(env, "CIAL_COOKIE_SECURE", defaults.cookie_secure),
            signin_max_failures=_int(
                env, "CIAL_SIGNIN_MAX_FAILURES", defaults.signin_max_failures, minimum=1
            ),
            signin_max_failures_per_client=_int(
                env, "CIAL_SIGNIN_MAX_FAILURES_PER_CLIENT", defaults.signin_max_failures_per_client, minimum=1
            ),
            signin_window_seconds=_int(
                env, "CIAL_SIGNIN_WINDOW_SECONDS", defaults.signin_window_seconds, minimum=1
            ),
            trusted_origins=frozenset(
                o.strip().rstrip("/").lower()
                for o in env.get("CIAL_TRUSTED_ORIGINS", "").split(",")
                if o.strip()
            ),
            tenant_image=env.get("CIAL_TENANT_IMAGE") or defaults.tenant_image,
            docker_network=env.get("CIAL_DOCKER_NETWORK") or None,
            sso_secret=env.get("CIAL_SSO_SECRET") or None,
            debug=_bool(env, "CIAL_DEBUG", defaults.debug),
        )


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ConfigurationError(f"{name} must be {bounds}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be true or false, got {raw!r}")
