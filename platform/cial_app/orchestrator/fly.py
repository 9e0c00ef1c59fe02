"""The Fly Machines driver: the `Orchestrator` Protocol over Fly's Machines API, one Fly app per
tenant (README, "Production (Fly Machines)": Fly's auto-stop loop, private network and secrets are
per app, so a tenant never shares them with another).

Per tenant: app `<prefix>-<tenant id>`, one volume `cial_data` in it, one machine named like the
Docker container and tagged with metadata `cial_tenant`/`cial_slug`/`cial_instance`.

Create is an "ensure", never a blind POST (Fly's own client resends a POST on 503, and a list once
came back empty, and both made duplicates):
  1. the machine found by metadata (a crash after an earlier POST is adopted here);
  2. if the list is empty, the volume is asked: a volume attached to a machine means the list was
     stale, and that machine is adopted (a volume mounts on one machine only, so this cannot lie);
  3. only then the volume is made (if missing) and the machine POSTed with a lease; a POST that
     got no clear answer (503, dropped) is never resent: we go back to 1.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from .base import (
    DATA_DIR,
    HEALTH_PATH,
    MACHINE_PORT,
    Endpoint,
    Machine,
    MachineSpec,
    MachineState,
    Volume,
    preference,
    volume_name,
)
from .errors import (
    EngineError,
    HealthTimeout,
    InvalidSpec,
    MachineCrashed,
    MachineNotFound,
    NameConflict,
    OrchestratorError,
)
from .fly_api import DEFAULT_API_URL, Clock, FlyApi, FlyApiError, FlyUnanswered, Sleep
from .fly_lease import leased, machine_path
from .fly_states import health_of, state_of

TENANT_KEY, SLUG_KEY, INSTANCE_KEY = "cial_tenant", "cial_slug", "cial_instance"
FLY_VOLUME = "cial_data"  # Fly: lowercase, digits and _, at most 30; one per app, so one name
MEMORY_STEP_MB = 256  # Fly sizes memory in multiples of 256 MB
WAIT_SLICE_SECONDS = 60  # the longest wait Fly accepts in one call
DEFAULT_DEADLINE = 300.0  # how long a start or stop may take in all (slices of /wait)
ENSURE_ROUNDS = 3  # lookups after unanswered POSTs before giving up
_STARTABLE = frozenset({"stopped", "created", "suspended", "failed"})
_DEAD_ENDS = frozenset({"failed", "launch_failed", "destroyed", "replaced"})
_APP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$")
_VOLUME_NAME = re.compile(r"^cial-tenant-(.+)-data$")


class FlyOrchestrator:
    driver = "fly"

    def __init__(
        self,
        *,
        token: str,
        org: str,
        region: str,
        url: str = DEFAULT_API_URL,
        instance: str = "local",
        app_prefix: str = "cial",
        volume_size_gb: int = 1,
        deadline: float = DEFAULT_DEADLINE,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """`transport`, `clock`, `sleep`: the fake Machines API and a fake clock in tests."""
        self.api = FlyApi(url=url, token=token, transport=transport, clock=clock, sleep=sleep)
        self._org, self._region, self._instance = org, region, instance
        self._prefix = f"{app_prefix}-"
        self._volume_gb = volume_size_gb
        self._deadline = deadline
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}

    # ---------------------------------------------------------------------------- the Protocol

    async def create(self, spec: MachineSpec) -> Machine:
        app = self.app_of(spec.tenant_id)
        async with self._lock(spec.tenant_id):
            await self._ensure_app(app, spec.tenant_id)
            raw, launched = await self._ensure_machine(app, spec)
            return await self._started(app, raw, spec.tenant_id, launched=launched)

    async def start(self, tenant_id: str) -> Machine:
        app = self.app_of(tenant_id)
        async with self._lock(tenant_id):
            raw = await self._find(app, tenant_id)
            if raw is None:
                raise MachineNotFound(tenant_id)
            return await self._started(app, raw, tenant_id)

    async def stop(self, tenant_id: str) -> Machine:
        app = self.app_of(tenant_id)
        async with self._lock(tenant_id):
            raw = await self._find(app, tenant_id)
            if raw is None:
                return Machine.absent(tenant_id)
            return await self._stopped(app, raw, tenant_id)

    async def restart(self, tenant_id: str) -> Machine:
        app = self.app_of(tenant_id)
        async with self._lock(tenant_id):
            raw = await self._find(app, tenant_id)
            if raw is None:
                raise MachineNotFound(tenant_id)
            await self._stopped(app, raw, tenant_id)
            raw = await self._get(app, raw["id"], tenant_id)
            return await self._started(app, raw, tenant_id)

    async def destroy(self, tenant_id: str) -> None:
        app = self.app_of(tenant_id)
        async with self._lock(tenant_id):
            for raw in await self._machines_in(app, tenant_id):
                await self._destroy_machine(app, raw["id"], tenant_id)
            for volume in await self._volumes_in(app):
                await self._delete_volume(app, volume["id"])
            await self._delete_app(app)

    async def ensure_routes(self) -> None:
        return None  # Fly's private network routes by itself (<app>.internal)

    async def status(self, tenant_id: str) -> Machine:
        app = self.app_of(tenant_id)
        raw = await self._find(app, tenant_id)
        return Machine.absent(tenant_id) if raw is None else self._machine(app, raw)

    async def logs(self, tenant_id: str, tail: int = 100) -> list[str]:
        """The Machines API has no logs (they go to Fly's log shipping); what it has is the
        machine's recent events, which say when and why it started, stopped or exited."""
        app = self.app_of(tenant_id)
        raw = await self._find(app, tenant_id)
        if raw is None:
            raise MachineNotFound(tenant_id)
        raw = await self._get(app, raw["id"], tenant_id)
        events = sorted(raw.get("events") or [], key=lambda e: int(e.get("timestamp", 0)))
        lines = [_event_line(event) for event in events]
        return lines[-tail:] if tail > 0 else []

    async def list_machines(self) -> list[Machine]:
        found: list[Machine] = []
        for app in await self._apps():
            tenant_id = app.removeprefix(self._prefix)
            for raw in await self._machines_in(app, tenant_id):
                found.append(self._machine(app, raw))
        return found

    async def list_volumes(self) -> list[Volume]:
        found: list[Volume] = []
        for app in await self._apps():
            tenant_id = app.removeprefix(self._prefix)
            for volume in await self._volumes_in(app):
                found.append(
                    Volume(
                        name=volume_name(tenant_id),
                        tenant_id=tenant_id,
                        created_at=_when(volume.get("created_at")),
                    )
                )
        return found

    async def remove_machine(self, machine_id: str) -> None:
        """`machine_id` is ours (`<app>:<fly id>`, see `_machine`), so no lookup is needed."""
        app, _, fly_id = machine_id.partition(":")
        if not app.startswith(self._prefix) or not fly_id:
            raise NameConflict(f"machine {machine_id} is not one of this App's tenant machines")
        await self._destroy_machine(app, fly_id, app.removeprefix(self._prefix))

    async def remove_volume(self, name: str) -> None:
        match = _VOLUME_NAME.match(name)
        if match is None:
            raise NameConflict(f"volume {name} is not a tenant volume of this App")
        tenant_id = match.group(1)
        app = self.app_of(tenant_id)
        if await self._machines_in(app, tenant_id):
            raise NameConflict(f"volume {name} is in use by tenant {tenant_id}'s machine")
        for volume in await self._volumes_in(app):
            await self._delete_volume(app, volume["id"])
        await self._delete_app(app)  # an app with nothing in it is the last of an orphan

    async def aclose(self) -> None:
        await self.api.aclose()

    # ------------------------------------------------------------------------------- naming

    def app_of(self, tenant_id: str) -> str:
        name = f"{self._prefix}{tenant_id}"
        if not _APP_NAME.match(name):
            raise InvalidSpec(
                f"tenant id {tenant_id!r} cannot name a Fly app {name!r} (lowercase letters, digits "
                "and -, at most 63 in all): the Fly driver needs lowercase UUIDs as tenant ids"
            )
        return name

    def _lock(self, tenant_id: str) -> asyncio.Lock:
        return self._locks.setdefault(tenant_id, asyncio.Lock())

    # ------------------------------------------------------------------------------- ensures

    async def _ensure_app(self, app: str, tenant_id: str) -> None:
        try:
            await self.api.call(
                "GET",
                f"/v1/apps/{app}",
                f"look up app {app}",
                pace="",
                idempotent=True,
                expect=frozenset({404}),
            )
            return
        except FlyApiError as exc:
            if exc.status != 404:
                raise
        try:
            await self.api.call(
                "POST",
                "/v1/apps",
                f"create app {app} for tenant {tenant_id}",
                pace=f"create_app:{self._org}",
                body={"app_name": app, "org_slug": self._org},
                idempotent=False,
                expect=frozenset({409, 422}),
            )
        except (FlyUnanswered, FlyApiError) as exc:
            # Applied after all, or made meanwhile by another process: the GET settles it.
            if isinstance(exc, FlyApiError) and exc.status not in (409, 422):
                raise
            await self.api.call("GET", f"/v1/apps/{app}", f"look up app {app}", pace="", idempotent=True)

    async def _ensure_machine(self, app: str, spec: MachineSpec) -> tuple[dict[str, Any], bool]:
        """The machine, and whether we just POSTed it (Fly then starts it by itself)."""
        for _ in range(ENSURE_ROUNDS):
            raw = await self._find(app, spec.tenant_id)
            if raw is not None and (raw["state"] in ("failed", "launch_failed") or _image(raw) != spec.image):
                # Cannot serve this spec: replace it (the volume, and so the data, stays).
                await self._destroy_machine(app, raw["id"], spec.tenant_id)
                raw = None
            if raw is not None:
                return raw, False
            volume = await self._ensure_volume(app, spec)
            try:
                return await self._post_machine(app, spec, volume), True
            except FlyUnanswered:
                continue  # maybe applied: look again, never resend
            except FlyApiError as exc:
                if exc.status != 412:
                    raise
                continue  # the volume is in use: a machine we have not seen yet holds it
        raise EngineError(
            f"could not create tenant {spec.slug}'s machine on Fly: {ENSURE_ROUNDS} attempts went "
            "unanswered and no machine was found; the App retries"
        )

    async def _find(self, app: str, tenant_id: str) -> dict[str, Any] | None:
        """The tenant's machine to use (extras, from a race, are destroyed), else None."""
        machines = await self._machines_in(app, tenant_id)
        if not machines:
            # An empty list may be stale: a volume attached to a machine says it is not.
            attached = [
                v["attached_machine_id"] for v in await self._volumes_in(app) if v.get("attached_machine_id")
            ]
            for machine_id in attached:
                raw = await self._get_or_none(app, machine_id, tenant_id)
                if raw is not None and _owned(raw, tenant_id):
                    machines.append(raw)
        if not machines:
            return None
        machines.sort(key=lambda raw: preference(self._machine(app, raw)))
        for extra in machines[1:]:
            await self._destroy_machine(app, extra["id"], tenant_id)
        return machines[0]

    async def _ensure_volume(self, app: str, spec: MachineSpec) -> dict[str, Any]:
        for volume in await self._volumes_in(app):
            if volume.get("name") == FLY_VOLUME:
                return volume
        data: dict[str, Any] = await self.api.call(
            "POST",
            f"/v1/apps/{app}/volumes",
            f"create the volume of tenant {spec.slug}",
            pace=f"create_volume:{app}",
            body={"name": FLY_VOLUME, "region": self._region, "size_gb": self._volume_gb},
            idempotent=False,
        )
        return data

    async def _post_machine(self, app: str, spec: MachineSpec, volume: Mapping[str, Any]) -> dict[str, Any]:
        memory_mb = max(
            MEMORY_STEP_MB, math.ceil(spec.memory_bytes / 2**20 / MEMORY_STEP_MB) * MEMORY_STEP_MB
        )
        config = {
            "image": spec.image,
            "env": spec.all_env,
            "guest": {"cpu_kind": "shared", "cpus": max(1, math.ceil(spec.cpus)), "memory_mb": memory_mb},
            "mounts": [{"volume": volume["id"], "path": DATA_DIR}],
            "metadata": {TENANT_KEY: spec.tenant_id, SLUG_KEY: spec.slug, INSTANCE_KEY: self._instance},
            "services": [
                {
                    "protocol": "tcp",
                    "internal_port": MACHINE_PORT,
                    "autostart": True,
                    "autostop": "stop",
                    "ports": [{"port": 443, "handlers": ["tls", "http"]}, {"port": 80, "handlers": ["http"]}],
                }
            ],
            # Fly runs the tenant's own health endpoint: readiness is its answer, not `started`.
            "checks": {
                "healthz": {
                    "type": "http",
                    "port": MACHINE_PORT,
                    "path": HEALTH_PATH,
                    "interval": "10s",
                    "timeout": "2s",
                }
            },
            "restart": {"policy": "on-failure", "max_retries": 3},
            "stop_config": {"timeout": "30s", "signal": "SIGTERM"},
        }
        data: dict[str, Any] = await self.api.call(
            "POST",
            f"/v1/apps/{app}/machines",
            f"create tenant {spec.slug}'s machine",
            pace=f"create:{app}",
            body={"name": spec.machine_name, "region": self._region, "config": config, "lease_ttl": 30},
            idempotent=False,
            expect=frozenset({412}),
        )
        return data

    # ------------------------------------------------------------------------- state changes

    async def _started(
        self, app: str, raw: Mapping[str, Any], tenant_id: str, *, launched: bool = False
    ) -> Machine:
        """Started (or an error saying why not); a started machine is left alone, and one on its
        way up (`starting`, e.g. adopted from a POST whose answer was lost) is only waited for:
        waiting changes nothing, so it needs no lease, and that POST's lease may still be held."""
        machine_id = str(raw["id"])
        nonce = raw.get("nonce")  # our create's own lease (`lease_ttl`), to use and release
        if (raw["state"] in _STARTABLE and not launched) or nonce is not None:
            async with leased(self.api, app, machine_id, who=f"tenant {tenant_id}", nonce=nonce) as held:
                current = raw if nonce is not None else await self._get(app, machine_id, tenant_id)
                # A machine we just POSTed is launching by itself (its first state may read
                # `created`): it is waited for, never started twice.
                if current["state"] in _STARTABLE and not launched:
                    await self.api.call(
                        "POST",
                        f"{machine_path(app, machine_id)}/start",
                        f"start tenant {tenant_id}",
                        pace=f"start:{machine_id}",
                        nonce=held,
                        idempotent=True,  # starting a started machine changes nothing
                    )
                await self._wait(app, machine_id, "started", tenant_id, None)
        elif raw["state"] != "started":
            await self._wait(app, machine_id, "started", tenant_id, None)
        final = await self._get(app, machine_id, tenant_id)
        if final["state"] != "started":
            raise MachineCrashed(
                f"tenant {tenant_id}'s Fly machine {machine_id} is {final['state']} after a start"
            )
        return self._machine(app, final)

    async def _stopped(self, app: str, raw: Mapping[str, Any], tenant_id: str) -> Machine:
        machine_id = str(raw["id"])
        if raw["state"] in ("started", "starting", "stopping", "replacing"):
            async with leased(self.api, app, machine_id, who=f"tenant {tenant_id}") as nonce:
                current = await self._get(app, machine_id, tenant_id)
                if current["state"] in ("started", "starting"):
                    await self.api.call(
                        "POST",
                        f"{machine_path(app, machine_id)}/stop",
                        f"stop tenant {tenant_id}",
                        pace=f"stop:{machine_id}",
                        body={},  # Fly wants a JSON body, even an empty one
                        nonce=nonce,
                        idempotent=True,
                    )
                await self._wait(app, machine_id, "stopped", tenant_id, str(current.get("instance_id") or ""))
        return self._machine(app, await self._get(app, machine_id, tenant_id))

    async def _wait(
        self, app: str, machine_id: str, state: str, tenant_id: str, instance_id: str | None
    ) -> None:
        """Until the machine is in `state`, in slices of at most 60 s (Fly's limit) up to our own
        deadline; 408 is a slice that ran out, not an error."""
        until = self._clock() + self._deadline
        while True:
            left = until - self._clock()
            if left <= 0:
                raise HealthTimeout(
                    f"tenant {tenant_id}'s Fly machine {machine_id} was not {state} "
                    f"within {self._deadline:.0f} s"
                )
            params = {"state": state, "timeout": str(max(1, min(WAIT_SLICE_SECONDS, math.ceil(left))))}
            if instance_id:
                params["instance_id"] = instance_id  # waiting for `stopped` names the version
            try:
                await self.api.call(
                    "GET",
                    f"{machine_path(app, machine_id)}/wait",
                    f"wait for tenant {tenant_id} to be {state}",
                    pace="",
                    params=params,
                    idempotent=True,
                    expect=frozenset({408}),
                )
                return
            except FlyApiError as exc:
                if exc.status != 408:
                    raise
            # A slice ran out: a machine that can no longer get there is not waited for further.
            current = await self._get(app, machine_id, tenant_id)
            if current["state"] in _DEAD_ENDS and current["state"] != state:
                raise MachineCrashed(
                    f"tenant {tenant_id}'s Fly machine {machine_id} is {current['state']} "
                    f"instead of {state}{_last_exit(current)}"
                )

    async def _destroy_machine(self, app: str, machine_id: str, tenant_id: str) -> None:
        """Forced (a running machine goes too); 404 is done. Under a lease when one can be had:
        a destroy must not wait behind a stuck holder, and force overrides it on Fly anyway."""
        try:
            async with leased(self.api, app, machine_id, who=f"tenant {tenant_id}") as nonce:
                await self._delete_machine(app, machine_id, tenant_id, nonce)
        except FlyApiError as exc:
            if exc.status != 404:
                raise

    async def _delete_machine(self, app: str, machine_id: str, tenant_id: str, nonce: str | None) -> None:
        await self._delete(
            machine_path(app, machine_id),
            f"destroy tenant {tenant_id}'s machine {machine_id}",
            pace=f"destroy:{machine_id}",
            params={"force": "true"},
            nonce=nonce,
        )

    async def _delete_volume(self, app: str, volume_id: str) -> None:
        await self._delete(
            f"/v1/apps/{app}/volumes/{volume_id}",
            f"delete volume {volume_id} of {app}",
            pace=f"delete_volume:{volume_id}",
        )

    async def _delete_app(self, app: str) -> None:
        await self._delete(f"/v1/apps/{app}", f"delete app {app}", pace=f"delete_app:{app}")

    async def _delete(
        self,
        path: str,
        what: str,
        *,
        pace: str,
        params: Mapping[str, str] | None = None,
        nonce: str | None = None,
    ) -> None:
        """DELETE, idempotently: 404 means it is gone already, which is what was asked."""
        try:
            await self.api.call(
                "DELETE",
                path,
                what,
                pace=pace,
                params=params,
                nonce=nonce,
                idempotent=True,
                expect=frozenset({404}),
            )
        except FlyApiError as exc:
            if exc.status != 404:
                raise

    # -------------------------------------------------------------------------------- reading

    async def _apps(self) -> list[str]:
        data = await self.api.call(
            "GET",
            "/v1/apps",
            f"list the apps of org {self._org}",
            pace="",
            params={"org_slug": self._org},
            idempotent=True,
        )
        names = [str(app["name"]) for app in (data or {}).get("apps", [])]
        return sorted(name for name in names if name.startswith(self._prefix))

    async def _machines_in(self, app: str, tenant_id: str) -> list[dict[str, Any]]:
        """This App instance's machines of the tenant (destroyed ones left out); [] if no app."""
        try:
            data = await self.api.call(
                "GET",
                f"/v1/apps/{app}/machines",
                f"list tenant {tenant_id}'s machines",
                pace="",
                params={f"metadata.{TENANT_KEY}": tenant_id},
                idempotent=True,
                expect=frozenset({404}),
            )
        except FlyApiError as exc:
            if exc.status == 404:
                return []
            raise
        return [
            raw
            for raw in data or []
            if _owned(raw, tenant_id)
            and raw.get("state") != "destroyed"
            and _metadata(raw).get(INSTANCE_KEY) == self._instance
        ]

    async def _volumes_in(self, app: str) -> list[dict[str, Any]]:
        try:
            data = await self.api.call(
                "GET",
                f"/v1/apps/{app}/volumes",
                f"list the volumes of {app}",
                pace="",
                idempotent=True,
                expect=frozenset({404}),
            )
        except FlyApiError as exc:
            if exc.status == 404:
                return []
            raise
        return [v for v in data or [] if v.get("name") == FLY_VOLUME and v.get("state") != "destroyed"]

    async def _get(self, app: str, machine_id: str, tenant_id: str) -> dict[str, Any]:
        raw = await self._get_or_none(app, machine_id, tenant_id)
        if raw is None:
            raise MachineNotFound(tenant_id)
        return raw

    async def _get_or_none(self, app: str, machine_id: str, tenant_id: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = await self.api.call(
                "GET",
                machine_path(app, machine_id),
                f"inspect tenant {tenant_id}'s machine",
                pace="",
                idempotent=True,
                expect=frozenset({404}),
            )
        except FlyApiError as exc:
            if exc.status == 404:
                return None
            raise
        return None if data.get("state") == "destroyed" else data

    def _machine(self, app: str, raw: Mapping[str, Any]) -> Machine:
        meta = _metadata(raw)
        tenant_id = str(meta.get(TENANT_KEY, app.removeprefix(self._prefix)))
        state = state_of(str(raw.get("state", "")))
        exit_code = _exit_code(raw)
        if state is MachineState.STOPPED and exit_code not in (None, 0) and not _asked_to_stop(raw):
            state = MachineState.EXITED  # it stopped on its own, with an error
        running = state is MachineState.RUNNING
        return Machine(
            tenant_id=tenant_id,
            state=state,
            slug=meta.get(SLUG_KEY),
            id=f"{app}:{raw['id']}",
            name=raw.get("name"),
            image=_image(raw),
            # Fly's private DNS name of this very machine, reachable over the app's 6PN network.
            upstream=Endpoint(f"{raw['id']}.vm.{app}.internal", MACHINE_PORT) if running else None,
            health=health_of(raw.get("checks")),
            exit_code=exit_code,
            error=None if state is not MachineState.DEAD else f"Fly machine state {raw.get('state')}",
            volume=volume_name(tenant_id),
            created_at=_when(raw.get("created_at")),
        )


# ------------------------------------------------------------------------------------ helpers


def _metadata(raw: Mapping[str, Any]) -> Mapping[str, str]:
    meta = (raw.get("config") or {}).get("metadata") or {}
    return meta if isinstance(meta, Mapping) else {}


def _owned(raw: Mapping[str, Any], tenant_id: str) -> bool:
    return _metadata(raw).get(TENANT_KEY) == tenant_id


def _image(raw: Mapping[str, Any]) -> str | None:
    image = (raw.get("config") or {}).get("image")
    return None if image is None else str(image)


def _exit_code(raw: Mapping[str, Any]) -> int | None:
    for event in sorted(raw.get("events") or [], key=lambda e: -int(e.get("timestamp", 0))):
        exit_event = (event.get("request") or {}).get("exit_event")
        if event.get("type") == "exit" and isinstance(exit_event, Mapping):
            return int(exit_event.get("exit_code", 0))
    return None


def _last_exit(raw: Mapping[str, Any]) -> str:
    code = _exit_code(raw)
    return "" if code is None else f" (its process exited with code {code})"


def _asked_to_stop(raw: Mapping[str, Any]) -> bool:
    """The latest event is ours (a stop request) rather than an exit on its own."""
    events = sorted(raw.get("events") or [], key=lambda e: -int(e.get("timestamp", 0)))
    for event in events:
        if event.get("type") in ("stop", "exit"):
            exit_event = (event.get("request") or {}).get("exit_event") or {}
            return event.get("type") == "stop" or bool(exit_event.get("requested_stop"))
    return True


def _event_line(event: Mapping[str, Any]) -> str:
    when = int(event.get("timestamp", 0)) / 1000
    what = f"{event.get('type')} {event.get('status')} ({event.get('source')})"
    return f"{datetime.fromtimestamp(when, UTC).isoformat()} {what}"


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


__all__ = ["FlyOrchestrator", "OrchestratorError"]
