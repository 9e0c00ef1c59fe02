"""The OpenAPI document is served and describes the API truthfully: schemathesis fuzzes every
operation against the App over real HTTP and finds no 500 and no undocumented answer."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
import uvicorn
from cial_app.api.app import create_app
from cial_app.settings import Settings
from hypothesis import HealthCheck, settings
from schemathesis import DataGenerationMethod

from testkit.polling import eventually
from testkit.ports import listening_socket, port_of

from .conftest import OWNER, TEST_SETTINGS, Client
from .fakes import FakeEngine


class LiveApp:
    """The App under uvicorn on 127.0.0.1, in a background thread."""

    def __init__(self, database: Path) -> None:
        self.socket = listening_socket()
        self.url = f"http://127.0.0.1:{port_of(self.socket)}"
        # The tenants the fuzzer creates, stops and deletes live on an in-memory engine.
        engine = FakeEngine()
        app = create_app(
            Settings(sqlite_path=database, **TEST_SETTINGS), orchestrator=engine, health=engine.probe
        )
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve(sockets=[self.socket])))

    def __enter__(self) -> LiveApp:
        self.thread.start()
        eventually(lambda: self.server.started, timeout=10, interval=0.05, what="uvicorn to start")
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    with LiveApp(tmp_path_factory.mktemp("live") / "app.sqlite3") as live:
        yield live


@pytest.fixture(scope="module")
def owner_token(live: LiveApp) -> str:
    response = httpx.post(f"{live.url}/api/auth/sign-up/email", json=OWNER)
    assert response.status_code == 200, response.text
    return response.cookies["cial_session"]


@pytest.fixture(scope="module")
def api_schema(live: LiveApp) -> schemathesis.BaseSchema:
    # Litestar writes OpenAPI 3.1; schemathesis 3.x reads it only with this switch on.
    schemathesis.experimental.OPEN_API_3_1.enable()
    return schemathesis.from_uri(
        f"{live.url}/schema/openapi.json",
        data_generation_methods=[DataGenerationMethod.positive, DataGenerationMethod.negative],
    )


fuzzed = schemathesis.from_pytest_fixture("api_schema")


class TestOpenApiDocument:
    async def test_the_schema_is_served_with_every_api_route(self, client: Client) -> None:
        response = await client.get("/schema/openapi.json")
        assert response.status_code == 200
        paths = response.json()["paths"]
        for path in (
            "/api/auth/sign-up/email",
            "/api/auth/sign-in/email",
            "/api/auth/sign-out",
            "/api/auth/get-session",
            "/api/admin/tenants",
            "/api/admin/tenants/{slug}",
            "/api/admin/tenants/{slug}/start",
            "/api/admin/tenants/{slug}/stop",
            "/api/admin/tenants/{slug}/restart",
            "/api/admin/tenants/{slug}/events",
            "/api/admin/tenants/{slug}/logs",
            "/api/admin/tenants/{slug}/open",
        ):
            assert path in paths, path
        assert not any(path.startswith("/admin") for path in paths), "HTML pages are not API"

    async def test_open_documents_its_redirect_and_each_refusal(self, client: Client) -> None:
        paths = (await client.get("/schema/openapi.json")).json()["paths"]
        responses = paths["/api/admin/tenants/{slug}/open"]["get"]["responses"]
        assert {"303", "401", "403", "404", "409", "503"} <= set(responses)
        headers = {name.lower() for name in responses["303"]["headers"]}
        assert {"location", "cache-control", "referrer-policy"} <= headers

    async def test_the_tenant_model_lists_every_field(self, client: Client) -> None:
        schemas = (await client.get("/schema/openapi.json")).json()["components"]["schemas"]
        tenant = next(s for name, s in schemas.items() if name.endswith("TenantOut"))
        assert set(tenant["properties"]) == {
            "id", "slug", "name", "state", "state_reason", "desired_state", "machine_id",
            "published_port", "url", "created_at", "updated_at", "idle_after_seconds",
        }  # fmt: skip


@fuzzed.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzzing_the_api_finds_no_server_error_and_no_undocumented_answer(
    case: schemathesis.Case, owner_token: str
) -> None:
    # Fuzz as the owner, so the tenant routes are reached past the 401; signing out would end
    # that, so sign-out goes without the cookie.
    cookies = {} if case.path == "/api/auth/sign-out" else {"cial_session": owner_token}
    # Open's 303 leads off the App, to a tenant: the redirect is the answer under test.
    response = case.call(cookies=cookies, allow_redirects=False)
    case.validate_response(response)
