"""All of the App's wiring in one plugin: database lifecycle, the provisioning runtime, routes,
dependencies, error handling, CSRF, templates, static files and the OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar, Response, get
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.plugins import InitPluginProtocol
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from cial_app import db
from cial_app.admin.quarantine_pages import QuarantinePages
from cial_app.admin.sign_in import SignInPages
from cial_app.admin.tenant_pages import TenantPages
from cial_app.api.csrf import CsrfMiddleware
from cial_app.api.errors import EXCEPTION_HANDLERS
from cial_app.api.health import healthz
from cial_app.api.hosts import AllowedHostsMiddleware
from cial_app.api.media import JsonBodyMiddleware
from cial_app.api.services import Services
from cial_app.auth.controllers import AuthController
from cial_app.db_locks import process_name
from cial_app.tenants.controllers import TenantController
from cial_app.tenants.quarantine_api import QuarantineController
from cial_app.tenants.router_api import RouterController
from cial_app.web.guards import current_session, require_owner

ADMIN = Path(__file__).resolve().parent.parent / "admin"
TEMPLATES = ADMIN / "templates"
STATIC = ADMIN / "static"


@get("/", include_in_schema=False)
async def root() -> Response[Any]:
    return Redirect("/admin")  # type: ignore[return-value]


class CialPlugin(InitPluginProtocol):
    def __init__(self, services: Services) -> None:
        self.services = services

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        services = self.services
        app_config.route_handlers.extend(
            [
                root,
                healthz,
                AuthController,
                TenantController,
                QuarantineController,
                RouterController,
                SignInPages,
                TenantPages,
                QuarantinePages,
                create_static_files_router(
                    path="/admin/static", directories=[STATIC], include_in_schema=False, cache_control=None
                ),
            ]
        )
        app_config.dependencies.update(
            {
                "settings": Provide(lambda: services.settings, sync_to_thread=False),
                "auth": Provide(lambda: services.auth, sync_to_thread=False),
                "tenants": Provide(lambda: services.tenants, sync_to_thread=False),
                "quarantine": Provide(lambda: services.quarantine, sync_to_thread=False),
                "sso": Provide(lambda: services.sso, sync_to_thread=False),
                "current": Provide(current_session),
                "owner": Provide(require_owner, sync_to_thread=False),
            }
        )
        app_config.exception_handlers.update(EXCEPTION_HANDLERS)
        # First (outermost): a request for another host is refused before anything looks at it.
        app_config.middleware.insert(0, AllowedHostsMiddleware(services.settings.allowed_hosts))
        app_config.middleware.append(CsrfMiddleware(services.settings.trusted_origins))
        # After the CSRF layer, which answers a form posted to the API first (403 without a token).
        app_config.middleware.append(JsonBodyMiddleware())
        app_config.template_config = TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine)
        app_config.openapi_config = OpenAPIConfig(
            title="Cial App", version="0.1.0", description="The control plane: owner auth and tenants."
        )
        # Entered in this order and left in reverse: tenant jobs end before the database closes.
        app_config.lifespan.extend([self.database, self.passwords, self.provisioning])
        app_config.debug = services.settings.debug
        return app_config

    @asynccontextmanager
    async def database(self, app: Litestar) -> AsyncIterator[None]:
        settings = self.services.settings
        engine = db.make_engine(settings)
        db.bind(engine)
        await db.connect(engine, pool=settings.database_pool)
        name = process_name(settings.instance)
        try:
            # Claimed before migrating: a second App refuses to start without touching the schema
            # the first one is serving from.
            async with db.sole_app(engine, name=name, wait_seconds=settings.sole_app_wait_seconds):
                await db.migrate(name)
                yield
        finally:
            await db.disconnect(engine)

    @asynccontextmanager
    async def passwords(self, app: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            self.services.hasher.close()

    @asynccontextmanager
    async def provisioning(self, app: Litestar) -> AsyncIterator[None]:
        provisioning = self.services.provisioning
        await provisioning.start()
        try:
            yield
        finally:
            await provisioning.aclose()
