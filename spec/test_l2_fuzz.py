"""L2: a fuzz run of the served OpenAPI schema against the real stack (Postgres) finds no 500.

The stack's App is given a tenant image that does not exist, so the tenants the fuzzer creates
fail fast into `error` instead of starting dozens of containers on a two-core machine; what is
fuzzed here is the API's handling of input, against the real database.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import DataGenerationMethod

from spec.containers import ComposeStack, spec_instance
from testkit.owner import Owner, sign_up

pytestmark = pytest.mark.docker

OWNER = Owner(name="Fuzz Owner", email="fuzz@example.com")


@pytest.fixture(scope="module")
def fuzz_stack() -> Iterator[ComposeStack]:
    overrides = {"CIAL_TENANT_IMAGE": "cial-tenant:does-not-exist"}
    with ComposeStack(project=spec_instance("fuzz"), overrides=overrides) as stack:
        yield stack


@pytest.fixture(scope="module")
def owner_cookie(fuzz_stack: ComposeStack) -> str:
    with httpx.Client(base_url=fuzz_stack.app_url, timeout=30) as client:
        response = sign_up(client, OWNER, fuzz_stack.setup_token)
    assert response.status_code == 200, response.text
    return response.cookies["cial_session"]


@pytest.fixture(scope="module")
def api_schema(fuzz_stack: ComposeStack) -> schemathesis.BaseSchema:
    # Litestar serves OpenAPI 3.1; schemathesis 3.x reads it only with this switch on.
    schemathesis.experimental.OPEN_API_3_1.enable()
    return schemathesis.from_uri(
        f"{fuzz_stack.app_url}/schema/openapi.json",
        data_generation_methods=[DataGenerationMethod.positive, DataGenerationMethod.negative],
    )


fuzzed = schemathesis.from_pytest_fixture("api_schema")


@fuzzed.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzzing_the_api_on_postgres_finds_no_server_error(
    case: schemathesis.Case, owner_cookie: str
) -> None:
    # As the owner, so tenant routes are reached past the 401; sign-out would end that session.
    cookies = {} if case.path == "/api/auth/sign-out" else {"cial_session": owner_cookie}
    # Open's 303 leads off the App, to a tenant: the redirect is the answer under test.
    response = case.call(cookies=cookies, timeout=30, allow_redirects=False)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
    )
    case.validate_response(response)


def test_the_stack_is_still_healthy_after_fuzzing(fuzz_stack: ComposeStack) -> None:
    assert httpx.get(f"{fuzz_stack.app_url}/healthz", timeout=10).status_code == 200
