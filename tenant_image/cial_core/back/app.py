"""Core back's routes, as the service sees them (the edge strips ``/.cial/api``).

- ``GET /healthz``: ``{"status": "ok", "service": "core-back", "tenant": ...}`` once every service of
  the tenant is listening; until then 503 with ``"status": "starting"`` and what it waits for.
- ``GET /visits``: the visit count; ``POST /visits``: count one more visit and return the new count.
  (A GET never changes the count, so health probes and prefetches do not inflate it.)
- ``GET /request-info``: the path and forwarding headers this service received, so the edge's
  rewriting can be observed from outside.
- ``/ws``: WebSocket echo (text and binary), to prove WebSocket routing end to end.
- ``GET /sso``, ``POST /sign-out``: the SSO handoff (``cial_core.back.signin``).

Every write from another origin is refused (``cial_core.back.origin``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response, WebSocket, get, post, websocket
from litestar.exceptions import HTTPException
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from cial_core import serving
from cial_core.back.bulk import digest, pattern
from cial_core.back.origin import refuse_cross_origin_writes
from cial_core.back.signin import sign_in, sign_out
from cial_core.back.sso import SsoSettings, TokenVerifier
from cial_core.back.visits import VisitCounter, VisitStoreError
from cial_core.echo import echo_until_closed
from cial_core.readiness import Readiness
from cial_core.services import CORE_BACK_SOCKET, CORE_FRONT_SOCKET, PLATFORM_BACK_PORT, PLATFORM_FRONT_PORT
from cial_core.serving import create_litestar, tenant_slug
from cial_core.sessions import SignInStore

DATA_DIR_VARIABLE = "CIAL_DATA_DIR"
DEFAULT_DATA_DIR = "/var/lib/cial"
FORWARDING_HEADERS = ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host")
# The edge needs no check: health is asked through it.
SIBLINGS: dict[str, int | str] = {
    "core-front": CORE_FRONT_SOCKET,
    "platform-front": PLATFORM_FRONT_PORT,
    "platform-back": PLATFORM_BACK_PORT,
}


@get("/healthz")
async def healthz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    readiness: Readiness = request.app.state.readiness
    waiting = await readiness.waiting_for()
    body: dict[str, Any] = {"status": "ok", "service": "core-back", "tenant": tenant_slug()}
    if not waiting:
        return Response(body)
    return Response(
        {**body, "status": "starting", "waiting_for": waiting}, status_code=HTTP_503_SERVICE_UNAVAILABLE
    )


def _visit_counter(request: Request[Any, Any, Any]) -> VisitCounter:
    counter: VisitCounter = request.app.state.visits
    return counter


def _unavailable(error: VisitStoreError) -> HTTPException:
    return HTTPException(status_code=HTTP_503_SERVICE_UNAVAILABLE, detail=str(error))


@get("/visits", sync_to_thread=False)
def read_visits(request: Request[Any, Any, Any]) -> dict[str, int]:
    try:
        return {"visits": _visit_counter(request).read()}
    except VisitStoreError as error:
        raise _unavailable(error) from error


@post("/visits", status_code=HTTP_200_OK, sync_to_thread=False)
def count_visit(request: Request[Any, Any, Any]) -> dict[str, int]:
    try:
        return {"visits": _visit_counter(request).increment()}
    except VisitStoreError as error:
        raise _unavailable(error) from error


@get("/request-info", sync_to_thread=False)
def request_info(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return {
        "path": request.url.path,
        "headers": {name: request.headers[name] for name in FORWARDING_HEADERS if name in request.headers},
        # Names only: which cookies reached the tenant (the router must strip the App's).
        "cookies": sorted(request.cookies),
    }


@websocket("/ws")
async def echo(socket: WebSocket[Any, Any, Any]) -> None:
    await echo_until_closed(socket)


def data_directory() -> Path:
    return Path(os.environ.get(DATA_DIR_VARIABLE, DEFAULT_DATA_DIR))


def create_app(
    data_dir: Path | None = None,
    siblings: Mapping[str, int | str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Litestar:
    """``siblings``: the services (name -> loopback port or socket path) health waits for; by
    default the tenant's. ``environ``: where the SSO settings are read, by default os.environ."""
    directory = data_dir or data_directory()
    app = create_litestar(
        [healthz, read_visits, count_visit, request_info, echo, digest, pattern, sign_in, sign_out],
        before_request=refuse_cross_origin_writes,
    )
    app.state.visits = VisitCounter(directory)
    app.state.readiness = Readiness(SIBLINGS if siblings is None else siblings)
    settings = SsoSettings.from_environ(os.environ if environ is None else environ)
    app.state.sso_verifier = TokenVerifier(settings)
    app.state.sign_in = store = SignInStore(directory)
    app.on_shutdown.append(store.close)
    return app


def prepare() -> Callable[[], None]:
    """Called by the supervisor before it forks; the child runs what this returns."""
    return serving.prepare(create_app(), socket=CORE_BACK_SOCKET)


def main() -> None:
    prepare()()
