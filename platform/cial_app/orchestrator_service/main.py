"""Run the orchestrator service: `python -m cial_app.orchestrator_service` (listens on
CIAL_ORCHESTRATOR_HOST:CIAL_ORCHESTRATOR_PORT, default 127.0.0.1:8090; compose listens on
cial-net and publishes no port)."""

from __future__ import annotations

import logging

import uvicorn

from cial_app.orchestrator_service.app import create_service
from cial_app.orchestrator_service.settings import ServiceSettings
from cial_app.provisioning.wiring import build_orchestrator, machine_template


def main() -> None:
    settings = ServiceSettings.from_env()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    service = create_service(
        build_orchestrator(settings.engine), machine_template(settings.engine), settings.token
    )
    uvicorn.run(
        service,
        host=settings.host,
        port=settings.port,
        proxy_headers=False,
        server_header=False,
        log_config=None,
    )
