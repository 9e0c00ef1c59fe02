"""A JSON endpoint takes its body only as `Content-Type: application/json` (415 otherwise);
the admin's forms keep their own content type."""

from __future__ import annotations

import json

import pytest
from cial_app.auth.tables import User
from cial_app.tenants.tables import Tenant

from .conftest import OWNER, Client, post_form

SIGN_UP = "/api/auth/sign-up/email"


class TestAJsonEndpoint:
    @pytest.mark.parametrize("content_type", [None, "application/xml", "application/json-patch+json"])
    async def test_refuses_a_body_not_labelled_json_with_415_saying_what_to_send(
        self, client: Client, content_type: str | None
    ) -> None:
        headers = {} if content_type is None else {"Content-Type": content_type}
        response = await client.post(SIGN_UP, content=json.dumps(OWNER).encode(), headers=headers)
        assert response.status_code == 415
        body = response.json()
        assert body["code"] == "unsupported_media_type"
        assert "Content-Type: application/json" in body["message"]
        assert await User.count() == 0

    async def test_refuses_a_tenant_without_content_type(self, owner: Client) -> None:
        body = json.dumps({"slug": "acme", "name": "Acme"}).encode()
        response = await owner.post("/api/admin/tenants", content=body)
        assert response.status_code == 415
        assert await Tenant.count() == 0

    async def test_takes_json_with_a_charset(self, client: Client) -> None:
        headers = {"Content-Type": "Application/JSON; charset=utf-8"}
        response = await client.post(SIGN_UP, content=json.dumps(OWNER).encode(), headers=headers)
        assert response.status_code == 200


class TestEndpointsWithoutAJsonBody:
    async def test_the_admins_sign_up_form_is_still_urlencoded(self, client: Client) -> None:
        response = await post_form(client, "/admin/signup", OWNER, token_from="/admin/signup")
        assert response.status_code == 303
        assert await User.count() == 1

    async def test_a_post_without_a_body_needs_no_content_type(self, owner: Client) -> None:
        assert (await owner.post("/api/auth/sign-out")).status_code == 200
