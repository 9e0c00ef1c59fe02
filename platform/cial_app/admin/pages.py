"""What every admin page shares: rendering with a form token, redirects, form fields, refusals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import MediaType, Request, Response
from litestar.response import Redirect, Template

from cial_app.api.csrf import issue_form_token
from cial_app.errors import AppError
from cial_app.settings import Settings

AnyRequest = Request[Any, Any, Any]
HOME = "/admin"
LOGIN = "/admin/login"
SIGNUP = "/admin/signup"


def page(
    request: AnyRequest,
    settings: Settings,
    template: str,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> Response[Any]:
    token, cookie = issue_form_token(request.cookies, secure=settings.cookie_secure)
    return Template(
        template_name=template,
        context={
            "csrf_token": token,
            "errors": {},
            "values": {},
            "tenant_url": settings.tenant_url,
            **context,
        },
        status_code=status,
        headers=dict(headers or {}),
        cookies=[cookie] if cookie else [],
        media_type=MediaType.HTML,
    )  # type: ignore[return-value]


def see_other(path: str, **kwargs: Any) -> Response[Any]:
    # 303: after a form POST the browser follows with a GET, so a reload never re-submits.
    return Redirect(path, status_code=303, **kwargs)  # type: ignore[return-value]


def refused(error: AppError) -> tuple[dict[str, str], str | None]:
    """Split an error into a message next to its field, or one above the form."""
    if error.field:
        return {error.field: error.message}, None
    return {}, error.message


async def form_fields(request: AnyRequest, *names: str) -> dict[str, str]:
    form = await request.form()
    return {name: value if isinstance(value := form.get(name), str) else "" for name in names}
