"""A tenant is ready when it answers: right after its first 200, every route of the plan answers.

Ten fresh `docker run`s of the tenant image. Each is asked for `/` as fast as it will take
connections; before the first 200 it may refuse the connection or say 503 "still starting" (the
edge's start gate, with Retry-After), never 502. Right after that first 200, every route answers
200 at once: the platform's page, Core's page, Core's API and its health, which says "ok" — the
same thing Docker's HEALTHCHECK and the App's `running` wait for.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import httpx
import pytest
from docker.models.containers import Container

from spec.containers import TENANT_IMAGE, spec_instance
from testkit.docker_sweep import sweep
from testkit.ports import published_port

pytestmark = pytest.mark.docker

RUNS = 10
INSTANCE = spec_instance("boot")
ROUTES = ("/", "/.cial", "/.cial/", "/.cial/api/healthz", "/.cial/api/visits")
FIRST_200_WITHIN = 60.0


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    sweep(INSTANCE)


def first_200(base: str) -> list[int]:
    """Poll `/` until it answers 200; the statuses seen before it."""
    seen: list[int] = []
    deadline = time.monotonic() + FIRST_200_WITHIN
    with httpx.Client(base_url=base, timeout=10) as client:
        while time.monotonic() < deadline:
            try:
                status = client.get("/").status_code
            except httpx.TransportError:  # the port does not take connections yet
                time.sleep(0.01)
                continue
            if status == 200:
                return seen
            seen.append(status)
            time.sleep(0.01)
    raise AssertionError(f"no 200 on / within {FIRST_200_WITHIN:.0f} s; saw {seen}")


class TestReadyMeansReady:
    def test_right_after_the_first_200_every_route_answers_in_ten_fresh_starts(
        self, engine: docker.DockerClient
    ) -> None:
        for run in range(RUNS):
            slug = f"boot-{run}"
            options: dict[str, Any] = {
                "environment": {
                    "TENANT_ID": str(uuid.uuid4()),
                    "TENANT_SLUG": slug,
                    "CIAL_SSO_KEY": secrets.token_hex(32),
                    "CIAL_SSO_KID": "v1-spec",
                },
                # Docker reads (host_ip, None) as "a free port on that address" (the SDK's types
                # know only a fixed port).
                "ports": {"8080/tcp": ("127.0.0.1", None)},
                "labels": {"cial.test": "1", "cial.instance": INSTANCE},
            }
            container: Container = engine.containers.run(TENANT_IMAGE, detach=True, **options)
            try:
                base = f"http://127.0.0.1:{published_port(container)}"
                before = first_200(base)
                assert set(before) <= {503}, f"run {run}: before the first 200 it answered {before}"
                answers = {route: httpx.get(base + route, timeout=10) for route in ROUTES}
                statuses = {route: response.status_code for route, response in answers.items()}
                assert set(statuses.values()) == {200}, f"run {run}: {statuses}"
                assert answers["/.cial/api/healthz"].json()["status"] == "ok"
                assert f"Tenant {slug}" in answers["/"].text
            finally:
                container.remove(force=True)
