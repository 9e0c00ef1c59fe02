"""Names of the values Litestar injects into handlers (provided in `api.plugin`)."""

from __future__ import annotations

from typing import TypeAlias

from litestar.di import NamedDependency

from cial_app.auth.service import AuthService, CurrentSession
from cial_app.settings import Settings
from cial_app.sso.service import SsoService
from cial_app.tenants.quarantine import QuarantineService
from cial_app.tenants.service import TenantService

AppSettings: TypeAlias = NamedDependency[Settings]
Auth: TypeAlias = NamedDependency[AuthService]
Tenants: TypeAlias = NamedDependency[TenantService]
Quarantine: TypeAlias = NamedDependency[QuarantineService]
Sso: TypeAlias = NamedDependency[SsoService]
# The signed-in session, or None. `Owner` is the guard: it refuses with 401/403 instead.
Current: TypeAlias = NamedDependency[CurrentSession | None]
Owner: TypeAlias = NamedDependency[CurrentSession]
