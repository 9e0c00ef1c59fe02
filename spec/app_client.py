"""A scripted owner of the App: the JSON API as a non-browser client uses it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from playwright.sync_api import Browser, Page

OWNER_PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Owner:
    name: str
    email: str
    password: str = OWNER_PASSWORD


def sign_up(app_url: str, owner: Owner) -> httpx.Response:
    return httpx.post(
        f"{app_url}/api/auth/sign-up/email",
        json={"name": owner.name, "email": owner.email, "password": owner.password},
        timeout=30,
    )


def signed_in_client(app_url: str, owner: Owner) -> httpx.Client:
    """An httpx client holding the owner's session cookie (signing up first if nobody has)."""
    client = httpx.Client(base_url=app_url, timeout=30)
    response = client.post("/api/auth/sign-in/email", json={"email": owner.email, "password": owner.password})
    if response.status_code == 401 and sign_up(app_url, owner).status_code == 200:
        response = client.post(
            "/api/auth/sign-in/email", json={"email": owner.email, "password": owner.password}
        )
    response.raise_for_status()
    return client


def tenant(client: httpx.Client, slug: str) -> dict[str, Any]:
    response = client.get(f"/api/admin/tenants/{slug}")
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def signed_in_page(browser: Browser, app_url: str, owner: Owner) -> Page:
    """A browser page signed in through the admin's login form, on the tenant list."""
    page = browser.new_page()
    page.goto(f"{app_url}/admin/login")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(owner.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{app_url}/admin")
    return page
