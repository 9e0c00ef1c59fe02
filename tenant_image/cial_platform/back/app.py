"""Platform back's routes: ``GET /health`` for now; the platform's own API grows here later."""

from __future__ import annotations

from litestar import Litestar, get

from cial_platform.serving import create_litestar, run, tenant_id

PORT = 3001


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok", "service": "platform-back", "tenant": tenant_id()}


def create_app() -> Litestar:
    return create_litestar([health])


def main() -> None:
    run(create_app(), port=PORT)
