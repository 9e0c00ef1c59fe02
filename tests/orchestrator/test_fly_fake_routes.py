"""The fake's routes against the Machines API's published description (the Swagger document at
docs.machines.dev). The document itself is not reachable from the tests (no network), so the
routes the driver uses are written down here as the description names them, with the path
parameters filled in, and each must be a route of the fake (not 405) with Fly's error body."""

from __future__ import annotations

import re

import httpx
import pytest

from testkit.fly_fake import FlyFake

# Method and path of every call the driver makes, as in the published description (/v1 prefix).
PUBLISHED = [
    ("GET", "/apps"),
    ("POST", "/apps"),
    ("GET", "/apps/{app_name}"),
    ("DELETE", "/apps/{app_name}"),
    ("GET", "/apps/{app_name}/machines"),
    ("POST", "/apps/{app_name}/machines"),
    ("GET", "/apps/{app_name}/machines/{machine_id}"),
    ("DELETE", "/apps/{app_name}/machines/{machine_id}"),
    ("POST", "/apps/{app_name}/machines/{machine_id}/start"),
    ("POST", "/apps/{app_name}/machines/{machine_id}/stop"),
    ("GET", "/apps/{app_name}/machines/{machine_id}/wait"),
    ("GET", "/apps/{app_name}/machines/{machine_id}/lease"),
    ("POST", "/apps/{app_name}/machines/{machine_id}/lease"),
    ("DELETE", "/apps/{app_name}/machines/{machine_id}/lease"),
    ("GET", "/apps/{app_name}/volumes"),
    ("POST", "/apps/{app_name}/volumes"),
    ("DELETE", "/apps/{app_name}/volumes/{volume_id}"),
]


@pytest.mark.parametrize(("method", "path"), PUBLISHED)
async def test_each_published_route_is_a_route_of_the_fake(method: str, path: str) -> None:
    fake = FlyFake()
    concrete = re.sub(r"\{[a-z_]+\}", "nothing-here", path)
    async with httpx.AsyncClient(
        transport=fake, base_url="http://fly.test", headers={"Authorization": f"Bearer {fake.token}"}
    ) as client:
        body: dict[str, str] | None = {} if method == "POST" else None
        response = await client.request(method, f"/v1{concrete}", json=body)
    assert response.status_code != 405, f"{method} {path} is not a route of the fake"
    if not response.is_success:
        data = response.json()
        assert set(data) == {"error", "status"} and data["status"] == response.status_code
