"""The services one App instance runs with, built once from its Settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cial_app.auth.passwords import PasswordHasher
from cial_app.auth.service import AuthService
from cial_app.auth.throttle import FailureWindow, SignInThrottle
from cial_app.settings import Settings
from cial_app.tenants.service import TenantProvisioner, TenantService
from cial_app.tenants.store import TenantStore


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    auth: AuthService
    tenants: TenantService
    tenant_store: TenantStore


def build_services(settings: Settings, provisioner: TenantProvisioner | None = None) -> Services:
    throttle = SignInThrottle(
        per_email=FailureWindow(settings.signin_max_failures, settings.signin_window_seconds),
        per_client=FailureWindow(settings.signin_max_failures_per_client, settings.signin_window_seconds),
    )
    auth = AuthService(
        hasher=PasswordHasher(),
        throttle=throttle,
        session_ttl=timedelta(seconds=settings.session_ttl_seconds),
    )
    store = TenantStore()
    return Services(
        settings=settings, auth=auth, tenants=TenantService(store, provisioner), tenant_store=store
    )
