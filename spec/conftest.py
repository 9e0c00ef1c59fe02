"""Session fixtures shared by the acceptance specs: the compose stack and a real Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from spec.containers import ComposeStack

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
    stack = ComposeStack(project=f"cialspec{os.getpid()}")
    stack.fresh()
    try:
        yield stack
    finally:
        stack.down()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
