"""The App's settings, read once from the environment into a frozen value."""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cial_app.errors import ConfigurationError, InvalidInput
from cial_app.hosts import LOOPBACK_HOSTS, allowed_host_entry, host_name
from cial_app.orchestrator import drivers
from cial_app.orchestrator.base import DEFAULT_CPUS, DEFAULT_MEMORY_BYTES, DEFAULT_PIDS_LIMIT, parse_memory
from cial_app.orchestrator.errors import InvalidSpec
from cial_app.sso.keys import MASTER_SECRET_MIN_BYTES
from cial_app.tenants.idle import DEFAULT_IDLE_MINUTES, parse_minutes

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class HealthVia(StrEnum):
    """Which of a machine's endpoints the App dials to check a tenant's health."""

    # 127.0.0.1:<published port>: the App runs on the host (a spec, `python -m cial_app`).
    PUBLISHED = "published"
    # The machine's upstream (its name on CIAL_DOCKER_NETWORK): the App is itself a container
    # (compose), where 127.0.0.1 is its own loopback and the published ports are out of reach.
    UPSTREAM = "upstream"
    # Through the router's control listener (CIAL_ROUTER_CONTROL_URL), which dials the upstream:
    # with a network per tenant only the router reaches a tenant, the App does not.
    ROUTER = "router"


@dataclass(frozen=True, slots=True)
class Settings:
    # Absent means SQLite at `sqlite_path`: the App then runs in-process with no Docker at all.
    database_url: str | None = None
    sqlite_path: Path = Path("cial-app.sqlite3")
    # Postgres only. Off: one connection per query, for an external pooler in front of Postgres
    # or callers on more than one event loop (the tests); slower.
    database_pool: bool = True
    # Postgres only: how long a starting App waits for another App on the same database to let
    # go (one that is stopping) before it refuses to start; two would act on the same tenants.
    sole_app_wait_seconds: float = 10.0
    # Loopback: `python -m cial_app` on a laptop is reachable from this machine only (the first
    # sign-up is open to it). A container sets CIAL_APP_HOST=0.0.0.0 itself (platform/Dockerfile),
    # since there the published port arrives on the container's own interface, not on loopback.
    host: str = "127.0.0.1"
    port: int = 3100
    session_ttl_seconds: int = 7 * 24 * 3600
    # Local mode is plain HTTP on localhost; a Secure cookie would never come back.
    cookie_secure: bool = False
    # Sign-in throttle, per (e-mail, client address): this many attempts are free, then each one
    # waits twice as long as the last (first, 2 x first, ...) up to the maximum; a success clears
    # it. Per client over all e-mails, the looser limit applies the same way. Keyed on the client
    # too, so a flood from one address never locks the owner out on another.
    signin_max_failures: int = 5
    signin_max_failures_per_client: int = 30
    signin_backoff_first_seconds: int = 1
    signin_backoff_max_seconds: int = 900
    # A key with no attempt for this long is forgotten (and its row pruned); at least the maximum
    # backoff, or the wait would never reach it.
    signin_forget_seconds: int = 3600
    # argon2 runs on threads of its own, so a flood of sign-ins never takes the threads that
    # Docker calls run on; past this many waiting for one, a sign-in gets 503 at once.
    password_hash_threads: int = 2
    password_hash_queue: int = 16
    # The names the App answers to in the Host header, with any port (CIAL_ALLOWED_HOSTS, plus the
    # host of admin_url). Any other Host is refused before a handler runs: without this, a page on
    # evil.example whose DNS name turns to 127.0.0.1 (DNS rebinding) is same-origin with itself
    # and could drive the App through the owner's browser, e.g. claim the owner slot.
    allowed_hosts: frozenset[str] = LOOPBACK_HOSTS
    # Origins besides the request's own that may post to the App (e.g. behind a TLS terminator).
    trusted_origins: frozenset[str] = field(default_factory=frozenset)
    tenant_image: str = "cial-tenant:dev"
    docker_network: str | None = None
    # The orchestrator driver by name (see cial_app.orchestrator.drivers()).
    orchestrator: str = "docker"
    # The `remote` driver only: the orchestrator service (which alone holds the Docker socket)
    # and its bearer token. Kept out of the repr, like the SSO secret.
    orchestrator_url: str | None = None
    orchestrator_token: str | None = field(default=None, repr=False)
    # The `fly` driver only (README, "Production (Fly Machines)"): Fly's Machines API, its token
    # (kept out of the repr), the org whose apps are the tenants' and the region they run in.
    fly_api_url: str = "https://api.machines.dev"
    fly_token: str | None = field(default=None, repr=False)
    fly_org: str | None = None
    fly_region: str | None = None
    fly_app_prefix: str = "cial"
    # Labels every tenant resource this App makes, and bounds what it adopts and sweeps as orphans:
    # two Apps on one Docker engine (a spec's beside `make local-up`) never touch each other's.
    instance: str = "local"
    health_via: HealthVia = HealthVia.PUBLISHED
    router_control_url: str | None = None
    # Where a browser reaches a running tenant, through the router ({slug} is replaced).
    tenant_url_template: str = "http://{slug}.localhost:8080"
    # Docker only: give each tenant a network of its own from this pool, joined only by the router.
    tenant_subnet_pool: str | None = None
    # Past this, a tenant that has not answered its health check goes to `error`.
    health_deadline_seconds: float = 30.0
    # How many tenants may boot at once (provisioning/start_slots.py); None: two per CPU core.
    max_parallel_starts: int | None = None
    # How often the reconciler compares the engine with the tenants table.
    reconcile_interval_seconds: float = 5.0
    tenant_memory_bytes: int = DEFAULT_MEMORY_BYTES
    tenant_cpus: float = DEFAULT_CPUS
    tenant_pids_limit: int = DEFAULT_PIDS_LIMIT
    # The SSO master secret (CIAL_SSO_SECRET). Never handed to a tenant: each gets a key derived
    # from it (cial_app.sso.keys). None: the App runs, but "Open" answers 503 and new tenants get
    # no key. Kept out of the repr, so printing the settings never prints it.
    sso_secret: str | None = field(default=None, repr=False)
    # Lets the first sign-up (the owner) in from another machine than the App's (CIAL_SETUP_TOKEN);
    # from loopback none is needed. In compose every client is "another machine" (Docker's bridge
    # gateway), so `make local-up` generates one with the other secrets and prints a sign-up link
    # carrying it. None: only this machine can create the owner. Kept out of the repr.
    setup_token: str | None = field(default=None, repr=False)
    # How long a new tenant may go unused before the router stops it (CIAL_IDLE_MINUTES, or
    # "never"); each tenant's own can be changed in the admin. None: never.
    idle_after_seconds: int | None = DEFAULT_IDLE_MINUTES * 60
    # The router's bearer token for the two calls it makes to the App (a tenant is idle; wake
    # one): CIAL_ROUTER_TOKEN. None: the App refuses them, and tenants never go idle.
    router_token: str | None = field(default=None, repr=False)
    # Where a tenant's pages (Core's SSO refusal) link back to: the admin, as the browser sees it.
    admin_url: str = "http://localhost:3100/admin"
    debug: bool = False

    def tenant_url(self, slug: str) -> str:
        return self.tenant_url_template.replace("{slug}", slug)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()
        driver = _choice(env, "CIAL_ORCHESTRATOR", defaults.orchestrator, drivers())
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            sqlite_path=Path(env.get("CIAL_SQLITE_PATH") or defaults.sqlite_path),
            database_pool=_bool(env, "CIAL_DATABASE_POOL", defaults.database_pool),
            sole_app_wait_seconds=_float(
                env, "CIAL_SOLE_APP_WAIT_SECONDS", defaults.sole_app_wait_seconds, minimum=0, maximum=3600
            ),
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
            signin_backoff_first_seconds=(
                first := _int(
                    env, "CIAL_SIGNIN_BACKOFF_FIRST_SECONDS", defaults.signin_backoff_first_seconds, minimum=1
                )
            ),
            signin_backoff_max_seconds=(
                longest := _int(
                    env, "CIAL_SIGNIN_BACKOFF_MAX_SECONDS", defaults.signin_backoff_max_seconds, minimum=first
                )
            ),
            signin_forget_seconds=_int(
                env,
                "CIAL_SIGNIN_FORGET_SECONDS",
                max(defaults.signin_forget_seconds, longest),
                minimum=longest,
            ),
            password_hash_threads=_int(
                env, "CIAL_PASSWORD_HASH_THREADS", defaults.password_hash_threads, minimum=1, maximum=64
            ),
            password_hash_queue=_int(
                env, "CIAL_PASSWORD_HASH_QUEUE", defaults.password_hash_queue, minimum=0, maximum=10_000
            ),
            trusted_origins=frozenset(
                o.strip().rstrip("/").lower()
                for o in env.get("CIAL_TRUSTED_ORIGINS", "").split(",")
                if o.strip()
            ),
            tenant_image=env.get("CIAL_TENANT_IMAGE") or defaults.tenant_image,
            docker_network=(network := env.get("CIAL_DOCKER_NETWORK") or None),
            orchestrator=driver,
            orchestrator_url=_orchestrator_url(env, driver),
            orchestrator_token=_orchestrator_token(env, driver),
            instance=_instance(env, defaults.instance),
            **_fly(env, driver, defaults),
            health_via=_health_via(env, network, env.get("CIAL_ROUTER_CONTROL_URL") or None, driver),
            router_control_url=env.get("CIAL_ROUTER_CONTROL_URL") or None,
            tenant_url_template=_url_template(env, defaults.tenant_url_template),
            tenant_subnet_pool=_subnet_pool(env),
            health_deadline_seconds=_float(
                env, "CIAL_TENANT_HEALTH_DEADLINE_SECONDS", defaults.health_deadline_seconds, minimum=1
            ),
            max_parallel_starts=_int(env, "CIAL_MAX_PARALLEL_STARTS", 0, minimum=1) or None,
            reconcile_interval_seconds=_float(
                env, "CIAL_RECONCILE_INTERVAL_SECONDS", defaults.reconcile_interval_seconds, minimum=0.5
            ),
            tenant_memory_bytes=_memory(env, "CIAL_TENANT_MEMORY", defaults.tenant_memory_bytes),
            tenant_cpus=_float(env, "CIAL_TENANT_CPUS", defaults.tenant_cpus, minimum=0.01, maximum=64),
            tenant_pids_limit=_int(env, "CIAL_TENANT_PIDS_LIMIT", defaults.tenant_pids_limit, minimum=16),
            sso_secret=_sso_secret(env),
            setup_token=_setup_token(env),
            idle_after_seconds=_idle_minutes(env, defaults.idle_after_seconds),
            router_token=_router_token(env),
            admin_url=(admin_url := _admin_url(env, defaults.admin_url)),
            allowed_hosts=_allowed_hosts(env, defaults.allowed_hosts, admin_url),
            debug=_bool(env, "CIAL_DEBUG", defaults.debug),
        )


# The orchestrator service's token is as long as the other local secrets (ci/secrets.sh).
ORCHESTRATOR_TOKEN_MIN_BYTES = 32


def _orchestrator_url(env: Mapping[str, str], driver: str) -> str | None:
    url = (env.get("CIAL_ORCHESTRATOR_URL") or "").strip().rstrip("/") or None
    if driver == "remote" and (url is None or not url.startswith(("http://", "https://"))):
        raise ConfigurationError(
            "CIAL_ORCHESTRATOR=remote needs CIAL_ORCHESTRATOR_URL, "
            f"an http:// URL of the orchestrator service; got {url!r}"
        )
    return url


def _orchestrator_token(env: Mapping[str, str], driver: str) -> str | None:
    token = env.get("CIAL_ORCHESTRATOR_TOKEN") or None
    if driver == "remote" and (token is None or len(token.encode()) < ORCHESTRATOR_TOKEN_MIN_BYTES):
        # Says how long it is, never what it is.
        raise ConfigurationError(
            "CIAL_ORCHESTRATOR=remote needs CIAL_ORCHESTRATOR_TOKEN of at least "
            f"{ORCHESTRATOR_TOKEN_MIN_BYTES} bytes, got {len((token or '').encode())}; "
            "`make local-up` generates one into .local/secrets.env"
        )
    return token


_FLY_ORG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_FLY_REGION = re.compile(r"^[a-z]{3}$")
_FLY_PREFIX = re.compile(r"^[a-z][a-z0-9-]{0,20}$")


def _fly(env: Mapping[str, str], driver: str, defaults: Settings) -> dict[str, Any]:
    """The Fly driver's settings; with CIAL_ORCHESTRATOR=fly each is checked and a missing one
    named, so the App refuses to start rather than fail on its first tenant."""
    url = (env.get("CIAL_FLY_API_URL") or "").strip().rstrip("/") or defaults.fly_api_url
    token = (env.get("CIAL_FLY_TOKEN") or "").strip() or None
    org = (env.get("CIAL_FLY_ORG") or "").strip() or None
    region = (env.get("CIAL_FLY_REGION") or "").strip().lower() or None
    prefix = (env.get("CIAL_FLY_APP_PREFIX") or "").strip() or defaults.fly_app_prefix
    if driver == "fly":
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"CIAL_FLY_API_URL must be an http(s) URL, got {url!r}")
        if token is None:
            raise ConfigurationError(
                "CIAL_ORCHESTRATOR=fly needs CIAL_FLY_TOKEN (`fly tokens create org` makes one)"
            )
        if org is None or not _FLY_ORG.match(org):
            raise ConfigurationError(
                f"CIAL_ORCHESTRATOR=fly needs CIAL_FLY_ORG, your Fly org's slug; got {org!r}"
            )
        if region is None or not _FLY_REGION.match(region):
            raise ConfigurationError(
                f"CIAL_ORCHESTRATOR=fly needs CIAL_FLY_REGION, a Fly region code like cdg; got {region!r}"
            )
        if not _FLY_PREFIX.match(prefix):
            raise ConfigurationError(
                f"CIAL_FLY_APP_PREFIX must be 1-21 of [a-z0-9-], starting with a letter; got {prefix!r}"
            )
    return {
        "fly_api_url": url,
        "fly_token": token,
        "fly_org": org,
        "fly_region": region,
        "fly_app_prefix": prefix,
    }


_INSTANCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def _instance(env: Mapping[str, str], default: str) -> str:
    raw = (env.get("CIAL_INSTANCE") or "").strip() or default
    if not _INSTANCE.match(raw):
        raise ConfigurationError(f"CIAL_INSTANCE must be 1-63 of [A-Za-z0-9_.-], got {raw!r}")
    return raw


def _url_template(env: Mapping[str, str], default: str) -> str:
    template = (env.get("CIAL_TENANT_URL_TEMPLATE") or "").strip() or default
    if "{slug}" not in template or template.count("{") != 1:
        raise ConfigurationError(f"CIAL_TENANT_URL_TEMPLATE must contain {{slug}} once, got {template!r}")
    return template


def _sso_secret(env: Mapping[str, str]) -> str | None:
    secret = env.get("CIAL_SSO_SECRET") or None
    if secret is not None and len(secret.encode()) < MASTER_SECRET_MIN_BYTES:
        # Says how long it is, never what it is.
        raise ConfigurationError(
            f"CIAL_SSO_SECRET must be at least {MASTER_SECRET_MIN_BYTES} bytes, got {len(secret.encode())}; "
            "`make local-up` generates one into .local/secrets.env"
        )
    return secret


SETUP_TOKEN_MIN_CHARS = 16


def _setup_token(env: Mapping[str, str]) -> str | None:
    token = (env.get("CIAL_SETUP_TOKEN") or "").strip() or None
    if token is not None and len(token) < SETUP_TOKEN_MIN_CHARS:
        # Says how long it is, never what it is: a short token could be guessed.
        raise ConfigurationError(
            f"CIAL_SETUP_TOKEN must be at least {SETUP_TOKEN_MIN_CHARS} characters, got {len(token)}; "
            "`make local-up` generates one into .local/secrets.env"
        )
    return token


def _idle_minutes(env: Mapping[str, str], default: int | None) -> int | None:
    raw = env.get("CIAL_IDLE_MINUTES")
    if raw is None:
        return default
    try:
        return parse_minutes(raw)
    except InvalidInput as error:
        raise ConfigurationError(f"CIAL_IDLE_MINUTES: {error.message}") from None


def _router_token(env: Mapping[str, str]) -> str | None:
    token = env.get("CIAL_ROUTER_TOKEN") or None
    if token is not None and len(token.encode()) < ORCHESTRATOR_TOKEN_MIN_BYTES:
        raise ConfigurationError(
            f"CIAL_ROUTER_TOKEN must be at least {ORCHESTRATOR_TOKEN_MIN_BYTES} bytes, got "
            f"{len(token.encode())}; `make local-up` generates one into .local/secrets.env"
        )
    return token


def _admin_url(env: Mapping[str, str], default: str) -> str:
    url = (env.get("CIAL_ADMIN_URL") or "").strip().rstrip("/") or default
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"CIAL_ADMIN_URL must be an http:// or https:// URL, got {url!r}")
    return url


def _allowed_hosts(env: Mapping[str, str], default: frozenset[str], admin_url: str) -> frozenset[str]:
    raw = env.get("CIAL_ALLOWED_HOSTS")
    entries = [e for e in raw.split(",") if e.strip()] if raw and raw.strip() else list(default)
    hosts = set()
    for entry in entries:
        name = allowed_host_entry(entry)
        if name is None:
            raise ConfigurationError(
                "CIAL_ALLOWED_HOSTS takes host names without a port (any port is allowed), "
                f"got {entry.strip()!r}"
            )
        hosts.add(name)
    # Where the admin says it is must work, whatever the list says.
    admin_host = host_name(urlsplit(admin_url).netloc.rpartition("@")[2])
    if admin_host is not None:
        hosts.add(admin_host)
    return frozenset(hosts)


def _subnet_pool(env: Mapping[str, str]) -> str | None:
    raw = (env.get("CIAL_TENANT_SUBNET_POOL") or "").strip()
    if not raw:
        return None
    try:
        pool = ipaddress.ip_network(raw)
    except ValueError as error:
        raise ConfigurationError(
            f"CIAL_TENANT_SUBNET_POOL must be a network like 10.213.0.0/16, got {raw!r}"
        ) from error
    if pool.prefixlen > 29:
        raise ConfigurationError(f"CIAL_TENANT_SUBNET_POOL {raw} is smaller than one tenant's /29")
    return str(pool)


def _health_via(
    env: Mapping[str, str], network: str | None, control: str | None, driver: str = "docker"
) -> HealthVia:
    choices = [a.value for a in HealthVia]
    if driver == "fly":
        # A Fly machine publishes nothing on our loopback: the App (itself on Fly) dials the
        # machine's private address, <id>.vm.<app>.internal:8080, over the 6PN network.
        via = HealthVia(_choice(env, "CIAL_TENANT_HEALTH_VIA", HealthVia.UPSTREAM.value, choices))
        if via is HealthVia.PUBLISHED:
            raise ConfigurationError(
                "CIAL_ORCHESTRATOR=fly publishes no port: CIAL_TENANT_HEALTH_VIA=upstream"
            )
        return via
    via = HealthVia(_choice(env, "CIAL_TENANT_HEALTH_VIA", HealthVia.PUBLISHED.value, choices))
    if via is HealthVia.ROUTER and control is None:
        raise ConfigurationError("CIAL_TENANT_HEALTH_VIA=router needs CIAL_ROUTER_CONTROL_URL")
    if via is HealthVia.UPSTREAM and network is None:
        raise ConfigurationError(
            "CIAL_TENANT_HEALTH_VIA=upstream reaches tenants by name on CIAL_DOCKER_NETWORK, which is not set"
        )
    return via


def _choice(env: Mapping[str, str], name: str, default: str, allowed: Iterable[str]) -> str:
    value = (env.get(name) or "").strip().lower() or default
    options = list(allowed)
    if value not in options:
        raise ConfigurationError(f"{name} must be one of {', '.join(options)}; got {value!r}")
    return value


def _float(
    env: Mapping[str, str], name: str, default: float, *, minimum: float, maximum: float | None = None
) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum:g}" if maximum is None else f"between {minimum:g} and {maximum:g}"
        raise ConfigurationError(f"{name} must be {bounds}, got {raw.strip()}")
    return value


def _memory(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = parse_memory(raw)
    except InvalidSpec as error:
        raise ConfigurationError(f"{name}: {error.reason}") from None
    if value < 16 * 1024 * 1024:
        raise ConfigurationError(f"{name} must be at least 16m, got {raw.strip()}")
    return value


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
