"""Fixtures for the App's fast tests: a fresh SQLite file per test, the App in-process."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from cial_app.api.app import create_app
from cial_app.settings import Settings
from litestar import Litestar
from litestar.testing import AsyncTestClient

OWNER = {"name": "Olivia Owner", "email": "owner@example.com", "password": "correct horse battery"}
BASE_URL = "http://testserver.local"
SAME_ORIGIN = {"Origin": BASE_URL, "Sec-Fetch-Site": "same-origin"}

Client = AsyncTestClient[Litestar]


# Set to a postgres:// URL to run these same tests against Postgres; every test then starts
# from an empty `public` schema in that database (so never point it at one you care about).
POSTGRES_URL = os.environ.get("CIAL_TEST_DATABASE_URL")


@pytest.fixture
async def settings(tmp_path: Path) -> Settings:
    if POSTGRES_URL is None:
        return Settings(sqlite_path=tmp_path / "app.sqlite3")
    connection = await asyncpg.connect(POSTGRES_URL)
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await connection.close()
    # The test client runs the App on its own event loop; pooled connections cannot cross loops.
    return Settings(database_url=POSTGRES_URL, database_pool=False)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(settings), base_url=BASE_URL) as client:
        # Redirects are part of what the admin pages promise: tests look at them, not past them.
        client.follow_redirects = False
        yield client


@pytest.fixture
async def owner(client: Client) -> Client:
    """The client, signed in as the owner."""
    response = await client.post("/api/auth/sign-up/email", json=OWNER)
    assert response.status_code == 200, response.text
    return client


async def sign_in(client: Client, email: str, password: str, **headers: str) -> httpx.Response:
    return await client.post(
        "/api/auth/sign-in/email", json={"email": email, "password": password}, headers=headers
    )


def form_token(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "the page has no CSRF token in its form"
    return match.group(1)


async def post_form(client: Client, path: str, fields: dict[str, str], *, token_from: str) -> httpx.Response:
    """Submit a form the way a browser does: load the page, then post with its token."""
    page = await client.get(token_from)
    return await client.post(path, data={**fields, "csrf_token": form_token(page)}, headers=SAME_ORIGIN)


def with_(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, **changes)
