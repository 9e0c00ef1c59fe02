"""The `remote` driver against the orchestrator service, both in-process (the service over the
memory driver, reached through an ASGI transport): the Protocol's contract holds through HTTP,
typed errors come back as themselves with their reasons, and the service refuses everything that
is not a tenant verb of its own recipe."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from cial_app.orchestrator import (
    EngineError,
    EngineUnavailable,
    ImageNotFound,
    MachineNotFound,
    MachineSpec,
    MachineState,
    MachineTemplate,
    NameConflict,
    Orchestrator,
    get_orchestrator,
)
from cial_app.orchestrator.memory import MemoryOrchestrator
from cial_app.orchestrator.remote import RemoteOrchestrator
from cial_app.orchestrator_service import create_service

TOKEN = "orchestrator-test-token-0123456789abcdef"
URL = "http://orchestrator.test"
TEMPLATE = MachineTemplate(image="cial-tenant:dev")


@dataclass
class Pair:
    engine: MemoryOrchestrator  # what the service drives
    remote: RemoteOrchestrator  # what the App holds
    raw: httpx.AsyncClient  # the service as any caller sees it (no token of its own)


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    engine = MemoryOrchestrator()
    transport = httpx.ASGITransport(app=create_service(engine, TEMPLATE, TOKEN))
    remote = RemoteOrchestrator(url=URL, token=TOKEN, transport=transport)
    async with httpx.AsyncClient(transport=transport, base_url=URL) as raw:
        yield Pair(engine, remote, raw)
    await remote.aclose()


def tenant_id() -> str:
    return str(uuid.uuid4())


def spec(tid: str, slug: str = "acme", **env: str) -> MachineSpec:
    return TEMPLATE.spec_for(tid, slug, env or None)


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestTheContractHoldsThroughTheService:
    def test_the_remote_driver_is_registered_and_satisfies_the_protocol(self) -> None:
        driver = get_orchestrator("remote", url=URL, token=TOKEN)
        assert isinstance(driver, Orchestrator)
        assert driver.driver == "remote"

    async def test_create_stop_start_restart_status_and_destroy(self, pair: Pair) -> None:
        tid = tenant_id()
        made = await pair.remote.create(spec(tid, CIAL_SSO_KID="k1"))
        assert made.state is MachineState.RUNNING and made.slug == "acme"
        assert made.upstream is not None and made.published_port is not None
        assert made.created_at is not None
        assert await pair.remote.status(tid) == made
        # Idempotent: the same machine again.
        assert (await pair.remote.create(spec(tid))).id == made.id

        stopped = await pair.remote.stop(tid)
        assert stopped.state is MachineState.STOPPED and stopped.upstream is None
        assert (await pair.remote.start(tid)).state is MachineState.RUNNING
        assert (await pair.remote.restart(tid)).state is MachineState.RUNNING
        assert "started cial-tenant-acme" in await pair.remote.logs(tid, tail=5)

        await pair.remote.destroy(tid)
        assert (await pair.remote.status(tid)).state is MachineState.ABSENT
        assert await pair.remote.list_volumes() == []
        await pair.remote.destroy(tid)  # idempotent

    async def test_the_service_builds_the_machine_from_its_own_template_and_the_tenants_env(
        self, pair: Pair
    ) -> None:
        tid = tenant_id()
        # The App's spec names another image and limits: only id, slug and env cross the wire.
        asked = MachineSpec(tid, "acme", image="attacker:latest", env={"CIAL_SSO_KID": "k1"}, cpus=64)
        made = await pair.remote.create(asked)
        assert made.image == "cial-tenant:dev"

    async def test_listing_and_removing_orphans(self, pair: Pair) -> None:
        orphan = pair.engine.add_orphan(tenant_id(), "ghost")
        [listed] = await pair.remote.list_machines()
        assert listed == orphan
        [volume] = await pair.remote.list_volumes()
        assert volume.tenant_id == orphan.tenant_id and volume.created_at is not None
        with pytest.raises(NameConflict, match="in use"):
            await pair.remote.remove_volume(volume.name)
        await pair.remote.remove_machine(orphan.id or "")
        await pair.remote.remove_volume(volume.name)
        assert await pair.remote.list_machines() == [] and await pair.remote.list_volumes() == []
        await pair.remote.ensure_routes()


class TestTypedErrorsComeBackAsThemselves:
    async def test_machine_not_found_keeps_its_reason(self, pair: Pair) -> None:
        tid = tenant_id()
        with pytest.raises(MachineNotFound) as caught:
            await pair.remote.start(tid)
        assert caught.value.reason == MachineNotFound(tid).reason
        with pytest.raises(MachineNotFound):
            await pair.remote.logs(tid)

    async def test_a_missing_image_says_which(self, pair: Pair) -> None:
        pair.engine.images.clear()
        with pytest.raises(ImageNotFound, match="'cial-tenant:dev' was not found"):
            await pair.remote.create(spec(tenant_id()))

    async def test_an_engine_that_is_down_is_engine_unavailable(self, pair: Pair) -> None:
        pair.engine.engine_up = False
        with pytest.raises(EngineUnavailable, match="memory engine is down"):
            await pair.remote.list_machines()

    async def test_a_service_that_is_not_there_is_engine_unavailable(self) -> None:
        remote = RemoteOrchestrator(url="http://127.0.0.1:9", token=TOKEN, timeout=2)
        try:
            with pytest.raises(EngineUnavailable, match=r"orchestrator service .* is unreachable"):
                await remote.status(tenant_id())
        finally:
            await remote.aclose()

    async def test_a_wrong_token_says_so(self, pair: Pair) -> None:
        transport = httpx.ASGITransport(app=create_service(pair.engine, TEMPLATE, TOKEN))
        wrong = RemoteOrchestrator(url=URL, token="x" * 40, transport=transport)
        with pytest.raises(EngineError, match="refused the App's token"):
            await wrong.list_machines()
        await wrong.aclose()

    async def test_a_bad_slug_is_invalid_spec(self, pair: Pair) -> None:
        response = await pair.raw.post(
            f"/v1/tenants/{tenant_id()}/machine", json={"slug": "Not A Slug"}, headers=auth()
        )
        assert response.status_code == 422
        error = response.json()
        assert error["error"] == "invalid_spec" and "slug 'Not A Slug'" in error["reason"]


class TestTheServiceRefusesEverythingElse:
    async def test_every_request_without_the_token_is_401(self, pair: Pair) -> None:
        for method, path in (
            ("GET", "/v1/machines"),
            ("GET", "/healthz"),
            ("POST", f"/v1/tenants/{tenant_id()}/machine"),
            ("GET", "/no/such/route"),
            ("POST", "/containers/create"),
        ):
            for headers in ({}, auth("wrong-token"), {"Authorization": TOKEN}):
                response = await pair.raw.request(method, path, headers=headers)
                assert response.status_code == 401, (method, path, headers)
                assert response.headers["www-authenticate"] == "Bearer"

    async def test_a_body_naming_an_image_a_mount_or_privileged_is_refused(self, pair: Pair) -> None:
        path = f"/v1/tenants/{tenant_id()}/machine"
        for extra in (
            {"image": "cial-base:bookworm"},
            {"privileged": True},
            {"binds": ["/:/host"]},
            {"volumes": {"/": {"bind": "/host"}}},
            {"cap_add": ["SYS_ADMIN"]},
        ):
            response = await pair.raw.post(path, json={"slug": "acme", **extra}, headers=auth())
            assert response.status_code == 422, (extra, response.text)
            assert response.json()["error"] == "invalid_spec"
        assert await pair.engine.list_machines() == []

    async def test_the_tenants_env_is_bounded_and_cannot_set_identity_or_loader_variables(
        self, pair: Pair
    ) -> None:
        path = f"/v1/tenants/{tenant_id()}/machine"
        for env in (
            {"TENANT_ID": "someone-else"},
            {"TENANT_SLUG": "other"},
            {"LD_PRELOAD": "/tmp/x.so"},
            {"PYTHONPATH": "/tmp"},
            {"CIAL_X": "a" * 5000},
            {f"CIAL_V{i}": "v" for i in range(40)},
        ):
            response = await pair.raw.post(path, json={"slug": "acme", "env": env}, headers=auth())
            assert response.status_code == 422, (list(env)[:2], response.text)
        assert await pair.engine.list_machines() == []

    async def test_ids_and_names_must_be_a_tenants(self, pair: Pair) -> None:
        for method, path in (
            ("POST", "/v1/tenants/not-a-uuid/start"),
            ("POST", "/v1/tenants/..%2F..%2Fcontainers/machine"),
            ("DELETE", "/v1/machines/cial-app-api-1"),
            ("DELETE", "/v1/volumes/pgdata"),
        ):
            response = await pair.raw.request(method, path, headers=auth(), json={"slug": "acme"})
            assert response.status_code in (404, 422), (path, response.status_code, response.text)

    async def test_there_is_no_exec_nor_any_engine_route(self, pair: Pair) -> None:
        tid = tenant_id()
        await pair.remote.create(spec(tid))
        for method, path in (
            ("POST", f"/v1/tenants/{tid}/exec"),
            ("POST", "/containers/create"),
            ("POST", "/v1.41/containers/create"),
            ("GET", "/v1/images"),
            ("POST", "/v1/machines"),
            ("PUT", f"/v1/tenants/{tid}/machine"),
        ):
            response = await pair.raw.request(method, path, headers=auth(), json={"cmd": ["sh"]})
            assert response.status_code in (404, 405), (method, path, response.status_code)
