"""Platform front's pages.

- ``GET /``: the placeholder page, naming the tenant read at request time; with the identity the
  edge adds (``X-Cial-User-Email``), who is signed in and a sign-out button.
- ``GET /.platform/request-headers``: ``{"headers": {name: value}}`` of the request as it arrived
  here, so what the edge lets through to agent code can be seen from outside.
- ``/ws``: WebSocket echo (text and binary).
- anything else: an HTML 404 that says it came from the platform.
"""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Litestar, Request, Response, WebSocket, get, websocket
from litestar.exceptions import NotFoundException
from litestar.status_codes import HTTP_404_NOT_FOUND

from cial_platform.echo import echo_until_closed
from cial_platform.serving import create_litestar, port, run, tenant_slug

PORT_VARIABLE = "PLATFORM_FRONT_PORT"


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>\n'
        f"<body>{body}</body></html>\n"
    )


# The edge removes any such header a client sent and adds it only for a live Core session.
EMAIL_HEADER = "x-cial-user-email"
SIGN_OUT_PATH = "/.cial/sign-out"


@get("/", media_type="text/html", sync_to_thread=False)
def home(request: Request[Any, Any, Any]) -> str:
    slug = escape(tenant_slug())
    title = f"Platform · Tenant {slug}"
    email = request.headers.get(EMAIL_HEADER)
    if not email:
        return _page(title, f"<h1>{title}</h1><p>Not signed in.</p>")
    signed_in = (
        f"<p>Tenant {slug} · signed in as {escape(email)}</p>"
        f'<form method="post" action="{SIGN_OUT_PATH}"><button type="submit">Sign out</button></form>'
    )
    return _page(title, f"<h1>{title}</h1>{signed_in}")


@get("/.platform/request-headers", sync_to_thread=False)
def request_headers(request: Request[Any, Any, Any]) -> dict[str, dict[str, str]]:
    headers = request.headers
    return {"headers": {name: ", ".join(headers.getall(name)) for name in headers}}


@websocket("/ws")
async def echo(socket: WebSocket[Any, Any, Any]) -> None:
    await echo_until_closed(socket)


def not_found(request: Request[Any, Any, Any], _: NotFoundException) -> Response[str]:
    message = f"<h1>Not found</h1><p>The platform has no page at {escape(request.url.path)}.</p>"
    body = _page("Not found · Platform", message)
    return Response(body, status_code=HTTP_404_NOT_FOUND, media_type="text/html")


def create_app() -> Litestar:
    return create_litestar([home, request_headers, echo], exception_handlers={NotFoundException: not_found})


def main() -> None:
    run(create_app(), port=port(PORT_VARIABLE))
