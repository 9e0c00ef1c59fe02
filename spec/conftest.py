"""Session fixtures shared by the acceptance specs: the compose stack and a real Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator

import docker
import pytest
from playwright.sync_api import Browser, sync_playwright

from spec.containers import RUN_INSTANCE_PREFIX, TENANT_IMAGE, ComposeStack, spec_instance
from testkit.docker_sweep import sweep

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

CHROMIUM = os.environ.get("CIAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def stack() -> Iterator[ComposeStack]:
    """Postgres + the App from compose.yml, from a clean state, torn down (with data) at the end."""
    with ComposeStack(project=spec_instance("stack")) as stack:
        yield stack


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope, not session: Playwright's sync API keeps an event loop running in this
    # thread while it is open, and the async specs that follow need the thread to themselves.
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def engine() -> Iterator[docker.DockerClient]:
    """The Docker engine, once the tenant image is known to be there."""
    client = docker.from_env()
    try:
        client.images.get(TENANT_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.fail(f"the tenant image {TENANT_IMAGE} is missing: build it with `make images`")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session", autouse=True)
def no_spec_tenant_outlives_the_run() -> Iterator[None]:
    """A safety net behind each spec's own clean-up: an interrupted or cancelled creation can
    finish after a test's teardown, and a leaked tenant would hold memory until removed by hand."""
    yield
    # Only this run's (spec_instance): other runs on the engine, and a `make local-up` App's own
    # tenants ("local"), are never touched.
    sweep(RUN_INSTANCE_PREFIX, prefix=True)
