"""Running one of the platform's Litestar apps on its loopback port.

A twin of Core's: the halves share no code by design (``agent`` cannot read /opt/cial-core).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence

import uvicorn
from litestar import Litestar
from litestar.exceptions import HTTPException
from litestar.types import ControllerRouterHandler, ExceptionHandlersMap, Scope
from uvicorn.config import UvicornDeprecationWarning

WS_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"  # the supervisor adds the service, Docker the time

_log = logging.getLogger("cial_platform")


def tenant_slug() -> str:
    """The slug of the tenant this container serves, read at request time."""
    return os.environ.get("TENANT_SLUG", "")


def port(variable: str) -> int:
    """A port the supervisor assigned (cial_core.services is the one place ports are written)."""
    value = os.environ.get(variable, "")
    if not value.isdigit():
        raise SystemExit(f"{variable} is not set to a port; the supervisor passes it")
    return int(value)


def log_unexpected(exception: Exception, scope: Scope) -> None:
    """Litestar ``after_exception`` hook: a traceback for every error that is not an HTTP answer."""
    if not isinstance(exception, HTTPException):
        _log.error("unhandled error on %s", scope.get("path", "?"), exc_info=exception)


def create_litestar(
    route_handlers: Sequence[ControllerRouterHandler],
    *,
    exception_handlers: ExceptionHandlersMap | None = None,
) -> Litestar:
    """A Litestar app with the settings both platform services share (lean: no OpenAPI schema,
    no logging set-up of Litestar's own, which would start a thread and re-format every line)."""
    return Litestar(
        route_handlers=route_handlers,
        exception_handlers=exception_handlers or {},
        after_exception=[log_unexpected],
        logging_config=None,
        openapi_config=None,
    )


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)


def server(app: Litestar, *, port: int) -> uvicorn.Server:
    """A uvicorn server for ``app`` on 127.0.0.1 (only the edge is reachable from outside)."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="asyncio",
        http="h11",
        # uvicorn's websockets (legacy) implementation, not the sans-I/O one "auto" now picks: that
        # one closes with 1002 when a close frame arrives in the middle of a fragmented message
        # (Autobahn 7.1.5; RFC 6455 §5.5.1 wants the close answered, 1000), the legacy one does not.
        ws="websockets",
        # A message above this is refused with close 1009 as its frame header arrives, never
        # buffered: the largest a tenant's services accept. 16 MiB is Autobahn's largest case;
        # echoing one costs about four copies of it at once, which a 256 MiB tenant can afford
        # (the edge in front streams frames and holds none of them).
        ws_max_size=WS_MAX_MESSAGE_BYTES,
        lifespan="on",
        log_config=None,
        # The edge logs requests (without query strings); a second log here would only repeat them.
        access_log=False,
        server_header=False,
        # Open WebSockets must not hold a stop past the supervisor's grace period.
        timeout_graceful_shutdown=1,
    )
    with warnings.catch_warnings():  # its deprecation notice, on import: the choice is made above
        warnings.simplefilter("ignore", UvicornDeprecationWarning)
        config.load()  # imports the protocol classes now: before a fork, they are then shared
    return uvicorn.Server(config)


def run(app: Litestar, *, port: int) -> None:
    """Serve ``app`` alone until SIGTERM (``python -m cial_platform.front``, for development)."""
    configure_logging()
    server(app, port=port).run()
