"""The App's ASGI application."""

from __future__ import annotations

from litestar import Litestar

from cial_app.api.plugin import CialPlugin
from cial_app.api.services import Services, build_services
from cial_app.auth.passwords import Argon2
from cial_app.orchestrator import Orchestrator
from cial_app.provisioning import HealthProbe
from cial_app.settings import Settings


def create_app(
    settings: Settings | None = None,
    *,
    orchestrator: Orchestrator | None = None,
    health: HealthProbe | None = None,
    argon2: Argon2 | None = None,
) -> Litestar:
    """The App for `settings` (default: from the environment). `orchestrator` and `health`
    replace the driver the settings name and the HTTP health check of tenants (tests use an
    in-memory engine); `argon2` the password hashing (tests count and hold hashes). The services
    are at `app.state.services`."""
    services = build_services(
        settings or Settings.from_env(), orchestrator=orchestrator, health=health, argon2=argon2
    )
    app = Litestar(plugins=[CialPlugin(services)])
    app.state.services = services
    return app


def services_of(app: Litestar) -> Services:
    services: Services = app.state.services
    return services
