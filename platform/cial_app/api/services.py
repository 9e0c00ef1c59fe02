"""The services one App instance runs with, built once from its Settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cial_app.auth.passwords import PasswordHasher
from cial_app.auth.service import AuthService
from cial_app.auth.throttle import FailureWindow, SignInThrottle
from cial_app.orchestrator import Orchestrator
from cial_app.provisioning import HealthProbe, Provisioning, build_provisioning
from cial_app.settings import Settings
from cial_app.sso.service import SsoService
from cial_app.tenants.service import TenantService
from cial_app.tenants.store import TenantStore


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    auth: AuthService
    tenants: TenantService
    sso: SsoService
    tenant_store: TenantStore
    provisioning: Provisioning


def build_services(
    settings: Settings, *, orchestrator: Orchestrator | None = None, health: HealthProbe | None = None
) -> Services:
    throttle = SignInThrottle(
        per_email=FailureWindow(settings.signin_max_failures, settings.signin_window_seconds),
        per_client=FailureWindow(settings.signin_max_failures_per_client, settings.signin_window_seconds),
    )
    auth = AuthService(
        hasher=PasswordHasher(),
        throttle=throttle,
        session_ttl=timedelta(seconds=settings.session_ttl_seconds),
        setup_token=settings.setup_token,
    )
    store = TenantStore()
    provisioning = build_provisioning(settings, store, orchestrator=orchestrator, health=health)
    tenants = TenantService(store, provisioning.actions)
    return Services(
        settings=settings,
        auth=auth,
        tenants=tenants,
        sso=SsoService(settings, tenants),
        tenant_store=store,
        provisioning=provisioning,
    )
