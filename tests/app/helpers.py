"""Small readers of the tenants API, shared by the lifecycle tests."""

from __future__ import annotations

from typing import Any

import httpx


async def create(client: httpx.AsyncClient, slug: str, name: str = "Acme Inc.") -> dict[str, Any]:
    response = await client.post("/api/admin/tenants", json={"slug": slug, "name": name})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def tenant(client: httpx.AsyncClient, slug: str) -> dict[str, Any]:
    response = await client.get(f"/api/admin/tenants/{slug}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def history(client: httpx.AsyncClient, slug: str) -> list[tuple[str | None, str]]:
    """The tenant's state changes, oldest first."""
    response = await client.get(f"/api/admin/tenants/{slug}/events")
    assert response.status_code == 200, response.text
    return [(e["from_state"], e["to_state"]) for e in reversed(response.json())]


async def reasons(client: httpx.AsyncClient, slug: str) -> list[str]:
    """The reasons of the tenant's state changes, oldest first."""
    response = await client.get(f"/api/admin/tenants/{slug}/events")
    return [e["reason"] for e in reversed(response.json())]


async def act(client: httpx.AsyncClient, slug: str, verb: str) -> httpx.Response:
    return await client.post(f"/api/admin/tenants/{slug}/{verb}")
