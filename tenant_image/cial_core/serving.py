"""Serving one of Core's Litestar apps on its unix socket (see ``cial_core.services``).

Core's services are prepared inside the supervisor and run in a forked child (see
``cial_core.supervisor``): :func:`prepare` builds the app and the server configuration before the
fork, so the modules uvicorn and Litestar load while doing so are shared with the children too.

The platform half has a twin of this module: the two halves share no code by design (``agent``
cannot read /opt/cial-core), and a few lines are cheaper than a third package both may read.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Sequence

import uvicorn
from cial_proxy import redact_query_strings
from litestar import Litestar
from litestar.exceptions import HTTPException
from litestar.types import BeforeRequestHookHandler, ControllerRouterHandler, ExceptionHandlersMap, Scope
from uvicorn.config import UvicornDeprecationWarning

WS_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"  # the supervisor adds the service, Docker the time

_log = logging.getLogger("cial_core")


def tenant_slug() -> str:
    """The slug of the tenant this container serves, read at request time (never baked in)."""
    return os.environ.get("TENANT_SLUG", "")


def log_unexpected(exception: Exception, scope: Scope) -> None:
    """Litestar ``after_exception`` hook: a traceback for every error that is not an HTTP answer."""
    if not isinstance(exception, HTTPException):
        _log.error("unhandled error on %s", scope.get("path", "?"), exc_info=exception)


def create_litestar(
    route_handlers: Sequence[ControllerRouterHandler],
    *,
    exception_handlers: ExceptionHandlersMap | None = None,
    before_request: BeforeRequestHookHandler | None = None,
) -> Litestar:
    """A Litestar app with the settings every Core service shares.

    No logging configuration of Litestar's own: its default starts a queue-listener thread, which
    must not exist in a process that is about to fork, and would re-format every line. No OpenAPI
    schema: nothing here is a public API, and it costs memory in each process.
    """
    return Litestar(
        route_handlers=route_handlers,
        exception_handlers=exception_handlers or {},
        after_exception=[log_unexpected],
        before_request=before_request,
        logging_config=None,
        openapi_config=None,
    )


def prepare(app: Litestar, *, socket: str) -> Callable[[], None]:
    """Build the server for ``app`` on the unix socket ``socket`` now; return the function that
    runs it (in the child)."""
    config = uvicorn.Config(
        app,
        uds=socket,
        # The edge is the only client, and it passes the public host and scheme in X-Forwarded-*
        # as headers the app reads where it needs them. uvicorn must not rewrite the client
        # address or scheme from them: they may come from any client the edge forwarded.
        proxy_headers=False,
        forwarded_allow_ips=[],
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
        # No access log: a URL may carry a one-time token (SSO) and no log line may contain one.
        # The edge logs each request without its query string.
        access_log=False,
        server_header=False,
        # Open WebSockets must not hold a stop past the supervisor's grace period.
        timeout_graceful_shutdown=1,
    )
    with warnings.catch_warnings():  # its deprecation notice, on import: the choice is made above
        warnings.simplefilter("ignore", UvicornDeprecationWarning)
        config.load()  # imports the protocol classes now, while the supervisor can still share them

    def serve() -> None:
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
        # uvicorn names the whole target (query included) in its WebSocket lines; a query may
        # hold an SSO token, and no log line may.
        redact_query_strings()
        uvicorn.Server(config).run()

    return serve
