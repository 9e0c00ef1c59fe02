"""The two calls the router makes to the App, under /api/router: a tenant had no traffic for its
idle time (stop it), and a request for an idle tenant is waiting (start it).

Only the router may make them: they carry its bearer token (CIAL_ROUTER_TOKEN), compared in
constant time, never a session. An owner's browser has no use for them (the admin's own
buttons are under /api/admin), and a tenant cannot reach the App at all. Each answers at once;
the router follows the tenant's state through its change notifications, not through this answer.
"""

from __future__ import annotations

import hmac
from typing import Any

import msgspec
from litestar import Controller, Response, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from cial_app.errors import NotAuthenticated
from cial_app.provisioning import ActionResult
from cial_app.settings import Settings
from cial_app.tenants.states import TenantState
from cial_app.web.deps import Tenants
from cial_app.web.responses import error_responses


class RouterAnswer(msgspec.Struct):
    slug: str
    state: TenantState
    state_reason: str | None
    # False: nothing was done, the tenant already was (or was becoming) what was asked.
    changed: bool


async def router_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    settings: Settings = connection.app.state.services.settings
    token = settings.router_token
    given = connection.headers.getall("authorization", [])
    expected = f"Bearer {token}".encode()
    if token is None or len(given) != 1 or not hmac.compare_digest(given[0].encode(), expected):
        raise NotAuthenticated("Only the router may call this (a bearer token, CIAL_ROUTER_TOKEN).")


def _answer(result: ActionResult) -> Response[RouterAnswer]:
    tenant = result.tenant
    assert tenant is not None
    return Response(
        RouterAnswer(tenant.slug, tenant.state, tenant.state_reason, result.changed),
        status_code=HTTP_202_ACCEPTED if result.changed else HTTP_200_OK,
    )


class RouterController(Controller):
    path = "/api/router/tenants"
    tags = ["router"]
    guards = [router_only]

    @post(
        "/{slug:str}/idle",
        status_code=HTTP_202_ACCEPTED,
        summary="The router saw no traffic for the tenant's idle time: stop it until the next request",
        responses=error_responses(401, 404, 409),
    )
    async def idle(self, slug: FromPath[str], tenants: Tenants) -> Response[RouterAnswer]:
        return _answer(await tenants.idle(slug))

    @post(
        "/{slug:str}/wake",
        status_code=HTTP_202_ACCEPTED,
        summary="A request for the tenant waits at the router: start it unless it is up or coming up",
        responses=error_responses(401, 404, 409),
    )
    async def wake(self, slug: FromPath[str], tenants: Tenants) -> Response[RouterAnswer]:
        return _answer(await tenants.wake(slug))
