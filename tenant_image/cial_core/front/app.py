"""Core front's pages. The edge forwards ``/.cial/*`` unchanged, so the routes carry the base path.

- ``GET /.cial``: the placeholder page, naming the tenant read at request time.
- ``/.cial/ws``: WebSocket echo (text and binary).
- anything else: an HTML 404 that says it came from Cial Core.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from litestar import Litestar, Request, Response, Router, WebSocket, get, websocket
from litestar.exceptions import NotFoundException
from litestar.status_codes import HTTP_404_NOT_FOUND

from cial_core import serving
from cial_core.echo import echo_until_closed
from cial_core.services import CORE_FRONT_SOCKET
from cial_core.serving import create_litestar, tenant_slug

BASE_PATH = "/.cial"


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>\n'
        f"<body>{body}</body></html>\n"
    )


@get("/", media_type="text/html", sync_to_thread=False)
def home() -> str:
    title = f"Cial Core · Tenant {escape(tenant_slug())}"
    return _page(title, f"<h1>{title}</h1>")


@websocket("/ws")
async def echo(socket: WebSocket[Any, Any, Any]) -> None:
    await echo_until_closed(socket)


def not_found(request: Request[Any, Any, Any], _: NotFoundException) -> Response[str]:
    message = f"<h1>Not found</h1><p>Cial Core has no page at {escape(request.url.path)}.</p>"
    body = _page("Not found · Cial Core", message)
    return Response(body, status_code=HTTP_404_NOT_FOUND, media_type="text/html")


def create_app() -> Litestar:
    return create_litestar(
        [Router(BASE_PATH, route_handlers=[home, echo])],
        exception_handlers={NotFoundException: not_found},
    )


def prepare() -> Callable[[], None]:
    """Called by the supervisor before it forks; the child runs what this returns."""
    return serving.prepare(create_app(), socket=CORE_FRONT_SOCKET)


def main() -> None:
    prepare()()
