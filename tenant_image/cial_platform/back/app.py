"""Platform back's routes: ``GET /health`` for now; the platform's own API grows here later."""

from __future__ import annotations

from litestar import Litestar, get

from cial_platform.serving import create_litestar, port, run, tenant_slug

PORT_VARIABLE = "PLATFORM_BACK_PORT"


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok", "service": "platform-back", "tenant": tenant_slug()}


def create_app() -> Litestar:
    return create_litestar([health])


def main() -> None:
    run(create_app(), port=port(PORT_VARIABLE))
