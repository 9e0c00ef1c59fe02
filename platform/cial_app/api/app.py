"""The App's ASGI application."""

from __future__ import annotations

from litestar import Litestar

from cial_app.api.plugin import CialPlugin
from cial_app.api.services import build_services
from cial_app.settings import Settings
from cial_app.tenants.service import TenantProvisioner


def create_app(settings: Settings | None = None, *, provisioner: TenantProvisioner | None = None) -> Litestar:
    """The App for `settings` (default: from the environment). `provisioner` is told about each
    new tenant (the orchestrator, from L3 on); without one, tenants stay `provisioning`."""
    services = build_services(settings or Settings.from_env(), provisioner)
    return Litestar(plugins=[CialPlugin(services)])
