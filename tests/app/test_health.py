from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient


class TestHealth:
    async def test_healthz_answers_ok_once_the_database_is_migrated(
        self, client: AsyncTestClient[Litestar]
    ) -> None:
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    async def test_healthz_is_not_part_of_the_public_api_schema(
        self, client: AsyncTestClient[Litestar]
    ) -> None:
        schema = (await client.get("/schema/openapi.json")).json()
        assert "/healthz" not in schema["paths"]
