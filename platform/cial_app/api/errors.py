"""One place where every error becomes a response.

API clients get `ErrorBody` JSON; the admin pages get the same message as an HTML page. An
unexpected exception is logged with its traceback and answered with a 500 that says nothing
about the internals.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from cial_app.errors import AppError, NotAuthenticated
from cial_app.web.guards import BROWSER_NAVIGATES_HERE
from cial_app.web.responses import ErrorBody

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/admin"
ADMIN_LOGIN = "/admin/login"
_BODY_KEY = "data"


def handle_app_error(request: Request[Any, Any, Any], error: AppError) -> Response[Any]:
    if isinstance(error, NotAuthenticated) and (_is_admin_page(request) or _browser_link(request)):
        # A browser without a session is sent to sign in, not shown an error (303: always a GET).
        return Redirect(ADMIN_LOGIN, status_code=303)  # type: ignore[return-value]
    return _respond(request, ErrorBody(error.status, error.code, error.message, error.field), error.headers)


def handle_http_exception(request: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    if isinstance(error, ValidationException):
        body = ErrorBody(400, "invalid_request", _validation_message(error), _validation_field(error))
    else:
        code = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed"}.get(
            error.status_code, "http_error"
        )
        body = ErrorBody(error.status_code, code, error.detail)
    return _respond(request, body, error.headers or {})


def handle_unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    body = ErrorBody(HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "Something went wrong on our side.")
    return _respond(request, body, {})


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    AppError: handle_app_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}


def _is_admin_page(request: Request[Any, Any, Any]) -> bool:
    return request.url.path.startswith(ADMIN_PREFIX)


def _browser_link(request: Request[Any, Any, Any]) -> bool:
    """An API route a browser navigates to (the admin's Open link), asked for by a browser."""
    handler = request.scope.get("route_handler")
    flagged = handler is not None and bool(handler.opt.get(BROWSER_NAVIGATES_HERE))
    return flagged and "text/html" in request.headers.get("accept", "")


def _respond(request: Request[Any, Any, Any], body: ErrorBody, headers: Mapping[str, str]) -> Response[Any]:
    if _is_admin_page(request):
        return Template(
            template_name="error.html",
            context={"error": body},
            status_code=body.status,
            headers=dict(headers),
            media_type=MediaType.HTML,
        )  # type: ignore[return-value]
    return Response(content=body, status_code=body.status, headers=dict(headers), media_type=MediaType.JSON)


def _validation_message(error: ValidationException) -> str:
    # Litestar puts msgspec's per-field complaints in `extra`; keep the first, it names the field.
    problems = error.extra if isinstance(error.extra, list) else []
    for problem in problems:
        if isinstance(problem, dict) and problem.get("message"):
            key = problem.get("key")
            # Litestar names the body itself "data"; a user knows it as the request body.
            where = "request body" if key in (None, _BODY_KEY) else f"field: {key}"
            return f"{problem['message']} ({where})"
    return error.detail or "The request is malformed."


def _validation_field(error: ValidationException) -> str | None:
    problems = error.extra if isinstance(error.extra, list) else []
    for problem in problems:
        if isinstance(problem, dict) and isinstance(problem.get("key"), str) and problem["key"] != _BODY_KEY:
            return str(problem["key"])
    return None
