"""Run the App: `python -m cial_app` (listens on CIAL_APP_HOST:CIAL_APP_PORT, default 127.0.0.1:3100)."""

from __future__ import annotations

import logging

import uvicorn

from cial_app.api.app import create_app
from cial_app.settings import Settings


def main() -> None:
    settings = Settings.from_env()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        proxy_headers=False,
        server_header=False,
        log_config=None,
    )
