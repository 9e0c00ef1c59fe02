"""Cross-site request forgery: browsers' cross-site writes are refused, forms need their token,
and a scripted client (no Origin, no Sec-Fetch-Site) with a JSON body is served."""

from __future__ import annotations

import pytest
from cial_app.api.csrf import check_origin
from cial_app.errors import CrossSiteRequest
from cial_app.tenants.tables import Tenant

from .conftest import BASE_URL, SAME_ORIGIN, Client, form_token

NEW_TENANT = {"slug": "acme", "name": "Acme"}


class TestBrowserCrossSiteRequests:
    @pytest.mark.parametrize(
        "headers",
        [
            {"Sec-Fetch-Site": "cross-site"},
            # Every tenant is a *.localhost host: the same site as the App, and not trusted.
            {"Sec-Fetch-Site": "same-site", "Origin": "http://acme.localhost:8080"},
            {"Origin": "http://evil.example"},
            {"Origin": "http://localhost.evil.example:3100"},
            {"Origin": "null"},
        ],
    )
    async def test_an_unsafe_request_from_another_site_is_refused_403(
        self, owner: Client, headers: dict[str, str]
    ) -> None:
        response = await owner.post("/api/admin/tenants", json=NEW_TENANT, headers=headers)
        assert response.status_code == 403
        assert response.json()["code"] == "cross_site_request"
        assert await Tenant.count() == 0

    async def test_sign_out_from_another_site_is_refused(self, owner: Client) -> None:
        response = await owner.post("/api/auth/sign-out", headers={"Sec-Fetch-Site": "cross-site"})
        assert response.status_code == 403
        assert (await owner.get("/api/auth/get-session")).json() is not None

    async def test_sign_in_from_another_site_is_refused(self, owner: Client) -> None:
        response = await owner.post(
            "/api/auth/sign-in/email",
            json={"email": "owner@example.com", "password": "x"},
            headers={"Origin": "http://evil.example"},
        )
        assert response.status_code == 403

    async def test_a_cross_site_form_post_is_refused_even_with_a_valid_token(self, owner: Client) -> None:
        token = form_token(await owner.get("/admin"))
        response = await owner.post(
            "/admin/tenants",
            data={**NEW_TENANT, "csrf_token": token},
            headers={"Sec-Fetch-Site": "cross-site"},
        )
        assert response.status_code == 403
        assert await Tenant.count() == 0

    async def test_safe_requests_from_anywhere_are_served(self, owner: Client) -> None:
        response = await owner.get("/api/admin/tenants", headers={"Sec-Fetch-Site": "cross-site"})
        assert response.status_code == 200


class TestSameOriginBrowserRequests:
    async def test_a_same_origin_json_request_is_served(self, owner: Client) -> None:
        response = await owner.post("/api/admin/tenants", json=NEW_TENANT, headers=SAME_ORIGIN)
        assert response.status_code == 201

    async def test_origin_alone_matching_the_host_is_served(self, owner: Client) -> None:
        response = await owner.post("/api/admin/tenants", json=NEW_TENANT, headers={"Origin": BASE_URL})
        assert response.status_code == 201

    async def test_a_same_origin_form_with_its_token_is_accepted(self, owner: Client) -> None:
        token = form_token(await owner.get("/admin"))
        response = await owner.post(
            "/admin/tenants", data={**NEW_TENANT, "csrf_token": token}, headers=SAME_ORIGIN
        )
        assert response.status_code == 303
        assert await Tenant.count() == 1

    async def test_a_form_without_a_token_is_refused(self, owner: Client) -> None:
        response = await owner.post("/admin/tenants", data=NEW_TENANT, headers=SAME_ORIGIN)
        assert response.status_code == 403
        assert "form" in response.text.lower()
        assert await Tenant.count() == 0

    async def test_a_form_with_a_token_for_another_session_is_refused(self, owner: Client) -> None:
        token = form_token(await owner.get("/admin"))
        owner.cookies.set("cial_session", "someone-elses-session")
        response = await owner.post(
            "/admin/tenants", data={**NEW_TENANT, "csrf_token": token}, headers=SAME_ORIGIN
        )
        assert response.status_code == 403

    async def test_the_token_is_bound_to_the_session(self, owner: Client) -> None:
        before = form_token(await owner.get("/admin"))
        await owner.post("/api/auth/sign-out")
        await owner.post(
            "/api/auth/sign-in/email",
            json={"email": "owner@example.com", "password": "correct horse battery"},
        )
        after = form_token(await owner.get("/admin"))
        assert before != after


class TestScriptableClients:
    async def test_no_origin_no_fetch_metadata_json_with_the_session_cookie_is_served(
        self, owner: Client
    ) -> None:
        response = await owner.post("/api/admin/tenants", json=NEW_TENANT)
        assert response.status_code == 201

    async def test_a_form_encoded_body_to_the_api_needs_a_token_too(self, owner: Client) -> None:
        # Without this, a text/plain or urlencoded cross-site <form> could smuggle a JSON-looking body.
        response = await owner.post(
            "/api/admin/tenants",
            content=b'{"slug": "acme", "name": "Acme"}',
            headers={"content-type": "text/plain"},
        )
        assert response.status_code == 415
        response = await owner.post("/api/admin/tenants", data=NEW_TENANT)
        assert response.status_code == 403
        assert await Tenant.count() == 0


class TestCheckOrigin:
    def test_a_trusted_origin_is_accepted_when_it_differs_from_the_host(self) -> None:
        from litestar.datastructures import Headers

        headers = Headers({"origin": "https://admin.example.com", "host": "app:3100"})
        check_origin(headers, frozenset({"https://admin.example.com"}))
        with pytest.raises(CrossSiteRequest):
            check_origin(headers)

    def test_sec_fetch_site_wins_over_origin(self) -> None:
        from litestar.datastructures import Headers

        check_origin(Headers({"sec-fetch-site": "same-origin", "origin": "http://proxy", "host": "app"}))
        check_origin(Headers({"sec-fetch-site": "none"}))
