"""Core's API refuses writes that another origin's page asked a browser to make (CSRF).

Core (``/.cial/*``) and the tenant's platform share one browser origin, so this does not stop
agent script on that origin (see the README's security section); it stops every other site. A
write (POST, PUT, PATCH, DELETE) is refused with 403 when:

- ``Sec-Fetch-Site`` is present and not ``same-origin`` (Fetch Metadata: the browser says who
  initiated the request, and a page cannot forge it), or
- ``Origin`` is present and is not this request's own origin (RFC 6454 §7; a browser sends it on
  every cross-origin and every POST request; ``null`` from a sandboxed page or a redirect chain
  counts as foreign).

A request with neither (curl, a health probe, the App) is not a browser's and passes. The own
origin is the public one, from the X-Forwarded-Proto/-Host the edge passes (the router sets them):
Core's servers sit on unix sockets and never see the public host otherwise.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.status_codes import HTTP_403_FORBIDDEN

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def own_origin(request: Request[Any, Any, Any]) -> str:
    headers = request.headers
    scheme = (headers.get("x-forwarded-proto") or "http").split(",")[0].strip().lower()
    host = (headers.get("x-forwarded-host") or headers.get("host") or "").split(",")[0].strip().lower()
    return f"{scheme}://{host}"


def cross_origin_reason(request: Request[Any, Any, Any]) -> str | None:
    """Why this request is a cross-origin write, or None when it is not one."""
    if request.method not in WRITES:
        return None
    site = request.headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() != "same-origin":
        return f"a write from another site (Sec-Fetch-Site: {site.strip()[:32]})"
    origin = request.headers.get("origin")
    if origin is not None and origin.strip().lower() != own_origin(request):
        return "a write from another origin"
    return None


async def refuse_cross_origin_writes(request: Request[Any, Any, Any]) -> Response[dict[str, Any]] | None:
    """Litestar ``before_request`` hook: a 403 for a cross-origin write, None to carry on."""
    reason = cross_origin_reason(request)
    if reason is None:
        return None
    return Response(
        {"status_code": HTTP_403_FORBIDDEN, "detail": f"Core refuses {reason}."},
        status_code=HTTP_403_FORBIDDEN,
        headers={"Cache-Control": "no-store"},
    )
