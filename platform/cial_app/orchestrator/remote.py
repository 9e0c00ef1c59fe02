"""The `remote` driver: the `Orchestrator` Protocol over HTTP, to the orchestrator service
(`python -m cial_app.orchestrator_service`), which alone holds the Docker socket.

The process that serves browsers then holds no engine credentials: it can ask for tenant verbs
only, and the service builds every machine from its own recipe. The same shape as a Fly Machines
driver (an HTTP API with a bearer token). Only what varies per tenant crosses the wire (its id,
its slug and its environment); the image, limits and networks in a `MachineSpec` are the
service's business and are not sent.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from .base import Machine, MachineSpec, Volume
from .errors import EngineError, EngineUnavailable, OrchestratorError
from .wire import error_from, machine_from_json, volume_from_json

# A create waits for the engine to make a network, a container and start it; the Docker driver's
# own calls time out at 30 s each.
DEFAULT_TIMEOUT = 120.0


class RemoteOrchestrator:
    driver = "remote"

    def __init__(
        self,
        *,
        url: str,
        token: str,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`transport`: in place of the network (tests run the service in-process)."""
        self._url = url.rstrip("/")
        # One client per driver, so connections to the service are pooled; trust_env=False: an
        # HTTP(S)_PROXY in the environment must not capture the internal name (nor see the token).
        self._client = httpx.AsyncClient(
            base_url=self._url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
            trust_env=False,
        )

    # ---------------------------------------------------------------------------- the Protocol

    async def create(self, spec: MachineSpec) -> Machine:
        body = {"slug": spec.slug, "env": dict(spec.env)}
        return machine_from_json(
            await self._call("POST", f"{_tenant(spec.tenant_id)}/machine", f"create tenant {spec.slug}", body)
        )

    async def start(self, tenant_id: str) -> Machine:
        return machine_from_json(
            await self._call("POST", f"{_tenant(tenant_id)}/start", f"start tenant {tenant_id}")
        )

    async def stop(self, tenant_id: str) -> Machine:
        return machine_from_json(
            await self._call("POST", f"{_tenant(tenant_id)}/stop", f"stop tenant {tenant_id}")
        )

    async def restart(self, tenant_id: str) -> Machine:
        return machine_from_json(
            await self._call("POST", f"{_tenant(tenant_id)}/restart", f"restart tenant {tenant_id}")
        )

    async def destroy(self, tenant_id: str) -> None:
        await self._call("DELETE", _tenant(tenant_id), f"destroy tenant {tenant_id}")

    async def ensure_routes(self) -> None:
        await self._call("POST", "/v1/routes", "attach the router to tenant networks")

    async def status(self, tenant_id: str) -> Machine:
        return machine_from_json(await self._call("GET", _tenant(tenant_id), f"inspect tenant {tenant_id}"))

    async def logs(self, tenant_id: str, tail: int = 100) -> list[str]:
        data = await self._call(
            "GET", f"{_tenant(tenant_id)}/logs?tail={max(tail, 0)}", f"read the logs of tenant {tenant_id}"
        )
        return [str(line) for line in data["lines"]]

    async def list_machines(self) -> list[Machine]:
        data = await self._call("GET", "/v1/machines", "list tenant containers")
        return [machine_from_json(m) for m in data["machines"]]

    async def list_volumes(self) -> list[Volume]:
        data = await self._call("GET", "/v1/volumes", "list tenant volumes")
        return [volume_from_json(v) for v in data["volumes"]]

    async def remove_machine(self, machine_id: str) -> None:
        await self._call(
            "DELETE", f"/v1/machines/{quote(machine_id, safe='')}", f"remove container {machine_id[:12]}"
        )

    async def remove_volume(self, name: str) -> None:
        await self._call("DELETE", f"/v1/volumes/{quote(name, safe='')}", f"remove volume {name}")

    async def aclose(self) -> None:
        await self._client.aclose()

    # ------------------------------------------------------------------------------- plumbing

    async def _call(self, method: str, path: str, doing: str, body: dict[str, Any] | None = None) -> Any:
        """The service's JSON answer; its typed error re-raised as itself, with its reason."""
        try:
            response = await self._client.request(method, path, json=body)
        except httpx.TimeoutException as exc:
            raise EngineUnavailable(
                f"could not {doing}: the orchestrator service at {self._url} did not answer in time"
            ) from exc
        except httpx.TransportError as exc:
            raise EngineUnavailable(
                f"could not {doing}: the orchestrator service at {self._url} is unreachable "
                f"({type(exc).__name__}); is it running?"
            ) from exc
        if response.status_code == 204:
            return None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.is_success and data is not None:
            return data
        if response.status_code == 401:
            raise EngineError(
                f"could not {doing}: the orchestrator service refused the App's token "
                "(CIAL_ORCHESTRATOR_TOKEN differs between the App and the service)"
            )
        error = error_from(data)
        if error is not None:
            raise error
        raise _unexpected(doing, response)


def _tenant(tenant_id: str) -> str:
    return f"/v1/tenants/{quote(tenant_id, safe='')}"


def _unexpected(doing: str, response: httpx.Response) -> OrchestratorError:
    return EngineError(
        f"could not {doing}: the orchestrator service answered HTTP {response.status_code} "
        f"({response.text[:200].strip() or 'no body'})"
    )
