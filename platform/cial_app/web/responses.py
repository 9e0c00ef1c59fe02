"""The error body every API error has, and its OpenAPI entries for a route's documented errors."""

from __future__ import annotations

import msgspec
from litestar.openapi import ResponseSpec


class ErrorBody(msgspec.Struct):
    status: int
    code: str
    message: str
    # The request field to fix, when one field is to blame.
    field: str | None = None


_DESCRIPTIONS = {
    400: "The input breaks a rule; `message` names it and `field` the field to fix",
    401: "Not signed in, or wrong credentials",
    403: "Refused: closed sign-up, a first sign-up without the setup token, cross-site request, "
    "or a form without a valid token",
    404: "No such resource",
    409: "Conflicts with what exists",
    413: "Body too large",
    415: "Unsupported body type",
    429: "Too many attempts; see Retry-After",
    503: "This App is not set up for it; `message` names the missing setting",
}


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the errors a route can answer with, so a fuzzer can check them."""
    return {
        status: ResponseSpec(data_container=ErrorBody, description=_DESCRIPTIONS.get(status, "Error"))
        for status in statuses
    }
