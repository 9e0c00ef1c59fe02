"""Running a proxy app under uvicorn with settings a proxy needs."""

from __future__ import annotations

import logging
import sys

import uvicorn
from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from ._logging import redact_query_strings
from ._types import ASGIApp

# Long-lived streams would hold a graceful shutdown open forever; this bounds it (below
# Docker's 10 s between SIGTERM and SIGKILL).
_GRACEFUL_SHUTDOWN_SECONDS = 5


class _WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, minus a false ERROR after a refused handshake.

    It sends the denial response but never marks the handshake finished, so each refusal (every
    WebSocket to a stopped tenant) also logs "ASGI callable returned without completing
    handshake." at ERROR. Same fix as the open upstream PR Kludex/uvicorn#3138; drop this
    class once a uvicorn release carries it.
    """

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body", False):
            self.handshake_complete = True


def server_config(app: ASGIApp, *, host: str, port: int, log_level: str = "info") -> uvicorn.Config:
    """The uvicorn configuration :func:`serve` runs with, for running it in-process (e.g. in tests)."""
    redact_query_strings()
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=None,  # logging is the process's business (see serve); uvicorn adds no handlers
        access_log=False,  # its lines carry the query string; the proxy logs its own
        proxy_headers=False,  # X-Forwarded-* from a client are data to pass on, not our peer address
        server_header=False,  # the upstream's Server and Date headers pass through; no second copy
        date_header=False,
        # The sans-I/O implementation (the legacy one is deprecated in this uvicorn); it offers the
        # websocket.http.response extension that lets a refused handshake carry its status.
        ws=_WebSocketProtocol,
        lifespan="on",
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
    )


def serve(app: ASGIApp, *, host: str, port: int, log_level: str = "info") -> None:
    """Run ``app`` until SIGINT/SIGTERM, logging one line per request to stdout."""
    level = logging.getLevelName(log_level.upper())
    logging.basicConfig(
        stream=sys.stdout, level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    # Their per-request lines would only repeat ours (already scrubbed, but noise).
    for chatty in ("httpx", "httpcore", "websockets"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, level))
    uvicorn.Server(server_config(app, host=host, port=port, log_level=log_level)).run()
