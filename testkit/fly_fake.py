"""A stateful fake of Fly's Machines API, as an httpx transport (no port, no thread): apps,
machines, volumes tied to one region, leases with nonces and TTLs, states with the waits between
them, Fly's rate limits, and faults on demand. Error bodies are Fly's shape, {"error", "status"}.

It keeps time on a `FakeClock` shared with the driver under test, so pacing, backoff, lease TTLs
and rate limits are exact and cost no wall-clock time. Transitions happen when a `wait` asks for
them (a machine stays `starting` until someone waits for `started`), so a driver that forgets to
wait sees the in-between state, as it would on Fly.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
from cial_app.orchestrator.fly import FlyOrchestrator

LEASE_HEADER = "fly-machine-lease-nonce"
MUTATION_RATE, MUTATION_BURST = 1.0, 3.0
GET_RATE, GET_BURST = 5.0, 5.0
MAX_WAIT_SECONDS = 60
_VOLUME_NAME = re.compile(r"^[a-z0-9_]{1,30}$")
_APP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$")
# Every change to a machine must carry the lease nonce (the create's POST holds its own lease).
_MACHINE_MUTATION = re.compile(r"/v1/apps/[^/]+/machines/[^/]+(/start|/stop|/restart|/suspend)?")
_TRANSITIONS = {"starting": "started", "stopping": "stopped", "destroying": "destroyed"}


class FakeClock:
    """Monotonic seconds that move only when something sleeps on them."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        self.slept += max(0.0, seconds)
        await asyncio.sleep(0)  # still a switch point, as a real sleep is


@dataclass
class Faults:
    """Each counts down: the next n matching requests misbehave, then the fake is honest again."""

    wait_408: int = 0  # `wait` answers 408 although the state would come
    lease_409: int = 0  # another holder has the lease
    rate_429: int = 0  # any request: 429 before anything is applied
    create_503_applied: int = 0  # machine POST applied, then answered 503
    stale_list: int = 0  # machine list answers [] whatever exists
    start_fails: int = 0  # a start ends in `failed` instead of `started`
    create_answer_bare: int = 0  # a machine POST's answer has no lease nonce and reads `created`


@dataclass
class _Lease:
    nonce: str
    expires: float
    owner: str


@dataclass
class _App:
    name: str
    org: str
    machines: dict[str, dict[str, Any]] = field(default_factory=dict)
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)


class _Refused(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error


class FlyFake(httpx.AsyncBaseTransport):
    def __init__(self, *, clock: FakeClock | None = None, token: str = "fake-fly-token") -> None:
        self.clock = clock or FakeClock()
        self.token = token
        self.faults = Faults()
        self.apps: dict[str, _App] = {}
        self.leases: dict[str, _Lease] = {}  # by machine id
        # What reached the fake: (method, path, lease nonce or None), and 429s from its limits.
        self.requests: list[tuple[str, str, str | None]] = []
        self.rate_limited = 0
        self.limited_keys: list[str] = []
        self._ids = itertools.count(1)
        self._buckets: dict[str, tuple[float, float]] = {}
        # Set to hold every `wait` until the event is set (a test cancels an operation mid-way).
        self.wait_gate: asyncio.Event | None = None
        self.waiting = asyncio.Event()

    # ------------------------------------------------------------------------ levers for tests

    def machines(self, app: str | None = None) -> list[dict[str, Any]]:
        apps = [self.apps[app]] if app is not None else list(self.apps.values())
        return [m for a in apps for m in a.machines.values() if m["state"] != "destroyed"]

    def volumes(self) -> list[dict[str, Any]]:
        return [v for a in self.apps.values() for v in a.volumes.values()]

    def count(self, method: str, pattern: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == method and re.fullmatch(pattern, p))

    def hold_lease(self, machine_id: str, *, ttl: float = 30.0, owner: str = "flyctl") -> str:
        """Someone else (an operator's flyctl) takes the machine's lease."""
        nonce = secrets.token_hex(8)
        self.leases[machine_id] = _Lease(nonce, self.clock() + ttl, owner)
        return nonce

    def exit(self, machine_id: str, code: int) -> None:
        """The machine's process exits on its own (the restart policy gave up)."""
        machine = self._machine_any(machine_id)
        machine["state"] = "stopped"
        self._event(machine, "exit", "stopped", {"exit_event": {"exit_code": code, "requested_stop": False}})

    # ------------------------------------------------------------------------------ transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)
        nonce = request.headers.get(LEASE_HEADER)
        path = request.url.path
        self.requests.append((request.method, path, nonce))
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _answer(401, {"error": "unauthorized", "status": 401})
        query = {k: v[-1] for k, v in parse_qs(request.url.query.decode()).items()}
        raw = await request.aread()
        if self.wait_gate is not None and path.endswith("/wait"):
            self.waiting.set()
            await self.wait_gate.wait()
        body: Any = json.loads(raw) if raw else None
        try:
            self._limit(request.method, path)
            status, data = self._route(request.method, path, query, body, nonce, bool(raw))
        except _Refused as refused:
            return _answer(refused.status, {"error": refused.error, "status": refused.status})
        return _answer(status, data)

    def _limit(self, method: str, path: str) -> None:
        if self.faults.rate_429 > 0:
            self.faults.rate_429 -= 1
            raise _Refused(429, "rate limit exceeded")
        parts = path.strip("/").split("/")
        if method == "GET":
            key, rate, burst = "GET", GET_RATE, GET_BURST
        else:
            # per action per machine: /v1/apps/{app}/machines/{id}/{action}
            target = parts[4] if len(parts) > 4 else parts[2] if len(parts) > 2 else "apps"
            action = parts[5] if len(parts) > 5 else f"{method}:{parts[3] if len(parts) > 3 else 'app'}"
            key, rate, burst = f"{action}:{target}", MUTATION_RATE, MUTATION_BURST
        tokens, at = self._buckets.get(key, (burst, self.clock()))
        tokens = min(burst, tokens + (self.clock() - at) * rate)
        if tokens < 1.0 - 1e-6:  # the same hair the driver allows
            self._buckets[key] = (tokens, self.clock())
            self.rate_limited += 1
            self.limited_keys.append(key)
            raise _Refused(429, "rate limit exceeded")
        self._buckets[key] = (tokens - 1.0, self.clock())

    def _route(
        self, method: str, path: str, query: dict[str, str], body: Any, nonce: str | None, has_body: bool
    ) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if parts[:2] != ["v1", "apps"]:
            raise _Refused(404, "not found")
        rest = parts[2:]
        if not rest:
            if method == "GET":
                org = query.get("org_slug")
                apps = [a for a in self.apps.values() if org is None or a.org == org]
                return 200, {
                    "total_apps": len(apps),
                    "apps": [{"name": a.name, "machine_count": len(a.machines)} for a in apps],
                }
            if method == "POST":
                return self._create_app(body)
        app = self._app(rest[0])
        if len(rest) == 1:
            if method == "GET":
                return 200, {"name": app.name, "organization": {"slug": app.org}, "status": "deployed"}
            if method == "DELETE":
                del self.apps[app.name]
                return 202, None
        elif rest[1] == "volumes":
            if len(rest) == 2 and method == "GET":
                return 200, list(app.volumes.values())
            if len(rest) == 2 and method == "POST":
                return self._create_volume(app, body)
            if len(rest) == 3 and method == "DELETE":
                return self._delete_volume(app, rest[2])
        elif rest[1] == "machines":
            if len(rest) == 2 and method == "GET":
                return 200, self._list_machines(app, query)
            if len(rest) == 2 and method == "POST":
                return self._create_machine(app, body)
            machine = self._machine(app, rest[2])
            action = rest[3] if len(rest) > 3 else None
            if action is None and method == "GET":
                return 200, machine
            if action is None and method == "DELETE":
                return self._destroy(app, machine, nonce, query)
            if action == "start" and method == "POST":
                return self._start(machine, nonce)
            if action == "stop" and method == "POST":
                if not has_body:
                    raise _Refused(400, "stop needs a JSON body")
                return self._stop(machine, nonce)
            if action == "wait" and method == "GET":
                return self._wait(machine, query)
            if action == "lease":
                return self._lease(machine, method, body, nonce)
        raise _Refused(405, f"{method} {path} is not a route of the Machines API")

    # -------------------------------------------------------------------------------- apps

    def _create_app(self, body: Any) -> tuple[int, Any]:
        name, org = str(body.get("app_name", "")), str(body.get("org_slug", ""))
        if not _APP_NAME.match(name) or not org:
            raise _Refused(422, f"invalid app name {name!r} or org {org!r}")
        if name in self.apps:
            raise _Refused(422, f"app name {name} has already been taken")
        self.apps[name] = _App(name, org)
        return 201, None

    def _app(self, name: str) -> _App:
        app = self.apps.get(name)
        if app is None:
            raise _Refused(404, f"app {name} not found")
        return app

    # ----------------------------------------------------------------------------- volumes

    def _create_volume(self, app: _App, body: Any) -> tuple[int, Any]:
        name = str(body.get("name", ""))
        if not _VOLUME_NAME.match(name):
            raise _Refused(400, "volume name must be lowercase alphanumeric and _, at most 30")
        volume = {
            "id": f"vol_{next(self._ids):012d}",
            "name": name,
            "state": "created",
            "region": body.get("region"),
            "size_gb": int(body.get("size_gb", 1)),
            "attached_machine_id": None,
            "created_at": _now(),
        }
        app.volumes[volume["id"]] = volume
        return 200, volume

    def _delete_volume(self, app: _App, volume_id: str) -> tuple[int, Any]:
        volume = app.volumes.get(volume_id)
        if volume is None:
            raise _Refused(404, f"volume {volume_id} not found")
        if volume["attached_machine_id"]:
            raise _Refused(412, f"volume {volume_id} is in use by machine {volume['attached_machine_id']}")
        del app.volumes[volume_id]
        return 200, volume

    # ---------------------------------------------------------------------------- machines

    def _list_machines(self, app: _App, query: dict[str, str]) -> list[dict[str, Any]]:
        if self.faults.stale_list > 0:
            self.faults.stale_list -= 1
            return []
        wanted = {k.removeprefix("metadata."): v for k, v in query.items() if k.startswith("metadata.")}
        return [
            m
            for m in app.machines.values()
            if m["state"] != "destroyed"
            and all((m["config"].get("metadata") or {}).get(k) == v for k, v in wanted.items())
        ]

    def _create_machine(self, app: _App, body: Any) -> tuple[int, Any]:
        config = body.get("config") or {}
        if not config.get("image"):
            raise _Refused(422, "config.image is required")
        memory = int((config.get("guest") or {}).get("memory_mb", 256))
        if memory % 256:
            raise _Refused(422, f"memory_mb {memory} must be a multiple of 256")
        name = body.get("name") or f"machine-{next(self._ids)}"
        if any(m["name"] == name and m["state"] != "destroyed" for m in app.machines.values()):
            raise _Refused(409, f"a machine named {name} already exists")
        region = body.get("region")
        volumes = []
        for mount in config.get("mounts") or []:
            volume = app.volumes.get(mount.get("volume"))
            if volume is None:
                raise _Refused(404, f"volume {mount.get('volume')} not found")
            if volume["attached_machine_id"]:
                raise _Refused(412, f"volume {volume['id']} is in use by {volume['attached_machine_id']}")
            if region and volume["region"] != region:
                raise _Refused(412, f"volume {volume['id']} is in {volume['region']}, not {region}")
            volumes.append(volume)
        machine_id = f"{next(self._ids):014x}"
        machine: dict[str, Any] = {
            "id": machine_id,
            "name": name,
            "state": "created" if body.get("skip_launch") else "starting",
            "region": region,
            "instance_id": _version(),
            "private_ip": f"fdaa::{machine_id[-4:]}",
            "config": config,
            "created_at": _now(),
            "updated_at": _now(),
            "events": [],
            "checks": [],
        }
        for volume in volumes:
            volume["attached_machine_id"] = machine_id
        app.machines[machine_id] = machine
        self._event(machine, "launch", machine["state"])
        answer = dict(machine)
        if body.get("lease_ttl"):
            lease = self.hold_lease(machine_id, ttl=float(body["lease_ttl"]), owner="creator")
            answer["nonce"] = lease
        if self.faults.create_answer_bare > 0:
            self.faults.create_answer_bare -= 1
            answer.pop("nonce", None)
            answer["state"] = "created"  # as first seen; it is launching all the same
        if self.faults.create_503_applied > 0:
            self.faults.create_503_applied -= 1
            raise _Refused(503, "service unavailable")  # ... and yet the machine exists
        return 200, answer

    def _machine(self, app: _App, machine_id: str) -> dict[str, Any]:
        machine = app.machines.get(machine_id)
        if machine is None or machine["state"] == "destroyed":
            raise _Refused(404, f"machine {machine_id} not found")
        return machine

    def _machine_any(self, machine_id: str) -> dict[str, Any]:
        for app in self.apps.values():
            if machine_id in app.machines:
                return app.machines[machine_id]
        raise KeyError(machine_id)

    def _check_lease(self, machine: dict[str, Any], nonce: str | None) -> None:
        lease = self.leases.get(machine["id"])
        if lease is not None and lease.expires > self.clock() and lease.nonce != nonce:
            raise _Refused(409, f"machine {machine['id']} lease currently held by {lease.owner}")

    def _start(self, machine: dict[str, Any], nonce: str | None) -> tuple[int, Any]:
        self._check_lease(machine, nonce)
        if machine["state"] in ("stopped", "created", "suspended", "failed"):
            machine["state"] = "starting"
            self._event(machine, "start", "starting")
        return 200, {"previous_state": machine["state"]}

    def _stop(self, machine: dict[str, Any], nonce: str | None) -> tuple[int, Any]:
        self._check_lease(machine, nonce)
        if machine["state"] in ("started", "starting"):
            machine["state"] = "stopping"
            machine["checks"] = []
            self._event(machine, "stop", "stopping")
        return 200, {"ok": True}

    def _destroy(
        self, app: _App, machine: dict[str, Any], nonce: str | None, query: dict[str, str]
    ) -> tuple[int, Any]:
        self._check_lease(machine, nonce)
        if machine["state"] in ("started", "starting") and query.get("force") != "true":
            raise _Refused(412, f"machine {machine['id']} is {machine['state']}; stop it or force")
        machine["state"] = "destroyed"
        for volume in app.volumes.values():
            if volume["attached_machine_id"] == machine["id"]:
                volume["attached_machine_id"] = None
        self.leases.pop(machine["id"], None)
        return 200, {"ok": True}

    def _wait(self, machine: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
        state = query.get("state", "started")
        timeout = int(query.get("timeout", "60"))
        if timeout > MAX_WAIT_SECONDS:
            raise _Refused(400, f"timeout {timeout} is over the maximum of {MAX_WAIT_SECONDS}")
        if state == "stopped" and not query.get("instance_id"):
            raise _Refused(400, "waiting for stopped needs instance_id")
        if self.faults.wait_408 > 0:
            self.faults.wait_408 -= 1
            self.clock.now += timeout  # the whole slice went by
            raise _Refused(408, "deadline_exceeded: machine did not reach the state in time")
        if _TRANSITIONS.get(machine["state"]) == state:
            if state == "started" and self.faults.start_fails > 0:
                self.faults.start_fails -= 1
                machine["state"] = "failed"
                self._event(machine, "exit", "failed", {"exit_event": {"exit_code": 1}})
            else:
                machine["state"] = state
                if state == "started":
                    machine["checks"] = [{"name": "healthz", "status": "passing", "output": "200 OK"}]
                self._event(machine, state, state)
        if machine["state"] != state:
            self.clock.now += timeout
            raise _Refused(408, f"deadline_exceeded: machine is {machine['state']}, not {state}")
        return 200, {"ok": True}

    def _lease(self, machine: dict[str, Any], method: str, body: Any, nonce: str | None) -> tuple[int, Any]:
        held = self.leases.get(machine["id"])
        live = held is not None and held.expires > self.clock()
        if method == "GET":
            if held is None or not live:
                raise _Refused(404, "no active lease")
            return 200, {
                "status": "success",
                "data": {"nonce": "", "owner": held.owner, "expires_at": held.expires},
            }
        if method == "POST":
            if self.faults.lease_409 > 0:
                self.faults.lease_409 -= 1
                raise _Refused(409, f"machine {machine['id']} lease currently held by flyctl")
            if live and held is not None and held.nonce != nonce:
                raise _Refused(409, f"machine {machine['id']} lease currently held by {held.owner}")
            ttl = float((body or {}).get("ttl", 30))
            new = _Lease(secrets.token_hex(8), self.clock() + ttl, "cial")
            self.leases[machine["id"]] = new
            return 201, {
                "status": "success",
                "data": {"nonce": new.nonce, "expires_at": new.expires, "owner": "cial"},
            }
        if method == "DELETE":
            if held is not None and held.nonce != nonce and live:
                raise _Refused(409, "lease is held by another")
            self.leases.pop(machine["id"], None)
            return 200, {"ok": True}
        raise _Refused(405, f"{method} lease")

    def _event(
        self, machine: dict[str, Any], kind: str, status: str, request: dict[str, Any] | None = None
    ) -> None:
        machine["events"].append(
            {
                "type": kind,
                "status": status,
                "source": "fake",
                "timestamp": int(self.clock() * 1000),
                "request": request or {},
            }
        )
        machine["updated_at"] = _now()


def _answer(status: int, data: Any) -> httpx.Response:
    if data is None:
        return httpx.Response(status)
    return httpx.Response(status, json=data)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _version() -> str:
    return secrets.token_hex(13).upper()


def fly_driver(fake: FlyFake, *, instance: str = "fly-fake", deadline: float = 300.0) -> FlyOrchestrator:
    """The Fly driver wired to the fake: its transport and its clock."""
    return FlyOrchestrator(
        token=fake.token,
        org="cial-test",
        region="cdg",
        url="http://fly.test",
        instance=instance,
        deadline=deadline,
        transport=fake,
        clock=fake.clock,
        sleep=fake.clock.sleep,
    )


def unleased_mutations(fake: FlyFake) -> list[tuple[str, str]]:
    """Changes to a machine that reached the fake without a lease nonce (Fly's rule: none)."""
    return [
        (method, path)
        for method, path, nonce in fake.requests
        if method in ("POST", "DELETE") and _MACHINE_MUTATION.fullmatch(path) and nonce is None
    ]
