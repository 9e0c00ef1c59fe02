"""One place where every error becomes a response.

API clients get `ErrorBody` JSON; the admin pages get the same message as an HTML page. An
unexpected exception is logged with its traceback and answered with a 500 that says nothing
about the internals.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import ResponseSpec
from litestar.response import Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from cial_app.errors import AppError

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/admin"
_BODY_KEY = "data"


class ErrorBody(msgspec.Struct):
    status: int
    code: str
    message: str
    # The request field to fix, when one field is to blame.
    field: str | None = None


def handle_app_error(request: Request[Any, Any, Any], error: AppError) -> Response[Any]:
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


def _respond(request: Request[Any, Any, Any], body: ErrorBody, headers: Mapping[str, str]) -> Response[Any]:
    if request.url.path.startswith(ADMIN_PREFIX):
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


_DESCRIPTIONS = {
    400: "The input breaks a rule; `message` names it and `field` the field to fix",
    401: "Not signed in, or wrong credentials",
    403: "Refused: closed sign-up, cross-site request, or a form without a valid token",
    404: "No such resource",
    409: "Conflicts with what exists",
    413: "Body too large",
    415: "Unsupported body type",
    429: "Too many attempts; see Retry-After",
}


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the errors a route can answer with, so a fuzzer can check them."""
    return {
        status: ResponseSpec(data_container=ErrorBody, description=_DESCRIPTIONS.get(status, "Error"))
        for status in statuses
    }
