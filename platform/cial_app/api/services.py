"""The services one App instance runs with, built once from its Settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cial_app.auth.passwords import Argon2, HashingPool, PasswordHasher, argon2id
from cial_app.auth.service import AuthService
from cial_app.auth.throttle import Backoff, SignInThrottle
from cial_app.orchestrator import Orchestrator
from cial_app.provisioning import HealthProbe, Provisioning, build_provisioning
from cial_app.settings import Settings
from cial_app.sso.service import SsoService
from cial_app.tenants.quarantine import QuarantineService
from cial_app.tenants.service import TenantService
from cial_app.tenants.store import TenantStore


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    auth: AuthService
    # The auth service's, kept here so the App can stop its threads when it stops.
    hasher: PasswordHasher
    tenants: TenantService
    quarantine: QuarantineService
    sso: SsoService
    tenant_store: TenantStore
    provisioning: Provisioning


def build_services(
    settings: Settings,
    *,
    orchestrator: Orchestrator | None = None,
    health: HealthProbe | None = None,
    argon2: Argon2 | None = None,
) -> Services:
    def backoff(free: int) -> Backoff:
        return Backoff(free, settings.signin_backoff_first_seconds, settings.signin_backoff_max_seconds)

    throttle = SignInThrottle(
        per_email=backoff(settings.signin_max_failures),
        per_client=backoff(settings.signin_max_failures_per_client),
        forget_after=timedelta(seconds=settings.signin_forget_seconds),
    )
    hasher = PasswordHasher(
        argon2 or argon2id(), HashingPool(settings.password_hash_threads, settings.password_hash_queue)
    )
    auth = AuthService(
        hasher=hasher,
        throttle=throttle,
        session_ttl=timedelta(seconds=settings.session_ttl_seconds),
        setup_token=settings.setup_token,
    )
    store = TenantStore()
    provisioning = build_provisioning(settings, store, orchestrator=orchestrator, health=health)
    tenants = TenantService(store, provisioning.actions, idle_after_seconds=settings.idle_after_seconds)
    return Services(
        settings=settings,
        auth=auth,
        hasher=hasher,
        tenants=tenants,
        quarantine=QuarantineService(store, provisioning.orchestrator, provisioning.actions),
        sso=SsoService(settings, tenants),
        tenant_store=store,
        provisioning=provisioning,
    )
