"""A JSON endpoint takes a body only as `Content-Type: application/json`.

Litestar parses a route's `data` as JSON whatever the request's Content-Type says, a missing one
included. The CSRF layer (cial_app.api.csrf) lets a body that is no form through, trusting that a
browser cannot send JSON cross-site without a preflight; that holds only for a body labelled JSON.
So a route whose body is JSON refuses anything else with 415 and says what to send, instead of
guessing. Routes without a body and the admin's form routes (they read `request.form()`, no
`data`) are not concerned: their content types stay theirs.
"""

from __future__ import annotations

from typing import Any

from litestar.datastructures import Headers
from litestar.enums import RequestEncodingType, ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.params import BodyKwarg
from litestar.types import ASGIApp, Receive, Scope, Send

from cial_app.errors import UnsupportedMediaType

JSON = "application/json"


def takes_json(handler: Any) -> bool:
    """Whether the route handler's body (its `data` parameter) is parsed as JSON."""
    if not isinstance(handler, HTTPRouteHandler):
        return False
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return False
    kwarg = data.kwarg_definition
    # Without a Body(...) annotation Litestar's default encoding is JSON too.
    return not isinstance(kwarg, BodyKwarg) or kwarg.media_type in (None, RequestEncodingType.JSON)


class JsonBodyMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if takes_json(scope.get("route_handler")):
            sent = (Headers.from_scope(scope).get("content-type") or "").split(";", 1)[0].strip().lower()
            if sent != JSON:
                what = f"Content-Type {sent!r}" if sent else "no Content-Type"
                raise UnsupportedMediaType(
                    f"This endpoint takes a JSON body; the request had {what}. "
                    f"Send the body as JSON with the header Content-Type: {JSON}."
                )
        await next_app(scope, receive, send)
