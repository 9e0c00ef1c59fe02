"""The service's HTTP API: one route per tenant verb, each a thin call into the driver.

    POST   /v1/tenants/{id}/machine   {"slug", "env"}  create (from the service's recipe)
    POST   /v1/tenants/{id}/start|stop|restart
    GET    /v1/tenants/{id}            status
    GET    /v1/tenants/{id}/logs?tail=
    DELETE /v1/tenants/{id}            destroy (containers, volume, network)
    GET    /v1/machines, /v1/volumes   what the instance owns (the reconciler's view)
    DELETE /v1/machines/{id}, /v1/volumes/{name}   one orphan; the driver refuses unlabelled ones
    POST   /v1/routes                  attach the router to tenant networks
    GET    /healthz

Typed errors travel as `{"error": code, "reason": ...}` (orchestrator.wire), so the App re-raises
the very error and the admin shows the same reason as with an in-process driver.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import FromPath, FromQuery

from cial_app.orchestrator import MachineTemplate, Orchestrator, OrchestratorError
from cial_app.orchestrator.wire import error_body, error_status, machine_to_json, volume_to_json
from cial_app.orchestrator_service import checks
from cial_app.orchestrator_service.token_gate import TokenGate

# The largest honest body is a slug and a handful of CIAL_* variables.
MAX_BODY_BYTES = 64 * 1024


def _engine(state: State) -> Orchestrator:
    engine: Orchestrator = state.engine
    return engine


def _template(state: State) -> MachineTemplate:
    template: MachineTemplate = state.template
    return template


@post("/v1/tenants/{tenant:str}/machine", status_code=200)
async def create(tenant: FromPath[str], data: checks.CreateMachine, state: State) -> dict[str, Any]:
    # The recipe (image, limits, network) is the service's; the caller names the tenant only.
    spec = _template(state).spec_for(checks.tenant_id(tenant), data.slug, checks.tenant_env(data.env))
    return machine_to_json(await _engine(state).create(spec))


@post("/v1/tenants/{tenant:str}/start", status_code=200)
async def start(tenant: FromPath[str], state: State) -> dict[str, Any]:
    return machine_to_json(await _engine(state).start(checks.tenant_id(tenant)))


@post("/v1/tenants/{tenant:str}/stop", status_code=200)
async def stop(tenant: FromPath[str], state: State) -> dict[str, Any]:
    return machine_to_json(await _engine(state).stop(checks.tenant_id(tenant)))


@post("/v1/tenants/{tenant:str}/restart", status_code=200)
async def restart(tenant: FromPath[str], state: State) -> dict[str, Any]:
    return machine_to_json(await _engine(state).restart(checks.tenant_id(tenant)))


@get("/v1/tenants/{tenant:str}")
async def status(tenant: FromPath[str], state: State) -> dict[str, Any]:
    return machine_to_json(await _engine(state).status(checks.tenant_id(tenant)))


@get("/v1/tenants/{tenant:str}/logs")
async def logs(tenant: FromPath[str], state: State, tail: FromQuery[int] = 100) -> dict[str, Any]:
    return {"lines": await _engine(state).logs(checks.tenant_id(tenant), checks.tail(tail))}


@delete("/v1/tenants/{tenant:str}")
async def destroy(tenant: FromPath[str], state: State) -> None:
    await _engine(state).destroy(checks.tenant_id(tenant))


@get("/v1/machines")
async def list_machines(state: State) -> dict[str, Any]:
    return {"machines": [machine_to_json(m) for m in await _engine(state).list_machines()]}


@get("/v1/volumes")
async def list_volumes(state: State) -> dict[str, Any]:
    return {"volumes": [volume_to_json(v) for v in await _engine(state).list_volumes()]}


@delete("/v1/machines/{machine:str}")
async def remove_machine(machine: FromPath[str], state: State) -> None:
    await _engine(state).remove_machine(checks.machine_id(machine))


@delete("/v1/volumes/{name:str}")
async def remove_volume(name: FromPath[str], state: State) -> None:
    await _engine(state).remove_volume(checks.volume(name))


@post("/v1/routes", status_code=204)
async def ensure_routes(state: State) -> None:
    await _engine(state).ensure_routes()


@get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _typed_error(_: Request[Any, Any, State], error: OrchestratorError) -> Response[dict[str, str]]:
    return Response(error_body(error), status_code=error_status(error))


def _invalid(_: Request[Any, Any, State], error: ValidationException) -> Response[dict[str, str]]:
    # A body with a field the API does not have (image, privileged, binds...) lands here.
    detail = "; ".join(str(e.get("message", "")) for e in error.extra or [] if isinstance(e, dict))
    return Response({"error": "invalid_spec", "reason": detail or error.detail}, status_code=422)


def _http(_: Request[Any, Any, State], error: HTTPException) -> Response[dict[str, str]]:
    return Response({"error": "http", "reason": error.detail}, status_code=error.status_code)


def create_service(engine: Orchestrator, template: MachineTemplate, token: str) -> TokenGate:
    """The service as an ASGI app: `engine` drives the machines, `template` is the recipe every
    machine is made from, `token` the bearer token every request must carry."""

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await engine.aclose()

    app = Litestar(
        route_handlers=[
            create,
            start,
            stop,
            restart,
            status,
            logs,
            destroy,
            list_machines,
            list_volumes,
            remove_machine,
            remove_volume,
            ensure_routes,
            healthz,
        ],
        state=State({"engine": engine, "template": template}),
        exception_handlers={
            OrchestratorError: _typed_error,
            ValidationException: _invalid,
            HTTPException: _http,
        },
        lifespan=[lifespan],
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=None,
    )
    return TokenGate(app, token)
