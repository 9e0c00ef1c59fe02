"""Fixtures for the App's fast tests: a fresh SQLite file per test, the App in-process."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

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


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(sqlite_path=tmp_path / "app.sqlite3")


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
