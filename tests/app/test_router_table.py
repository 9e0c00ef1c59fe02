"""The router's host -> tenant table: which request goes where, and what every refusal says."""

from __future__ import annotations

import pytest
from cial_app.api.csrf import CSRF_COOKIE
from cial_app.auth.cookies import SESSION_COOKIE
from cial_app.router.main import APP_COOKIES
from cial_app.router.table import BadHost, Home, RouteTable, TenantRoute
from cial_proxy import NoRoute, Unavailable, Upstream


def table(*routes: TenantRoute) -> RouteTable:
    made = RouteTable("http://localhost:3100/admin")
    made.replace_all(list(routes))
    return made


ACME = TenantRoute("acme", "running", "cial-tenant-acme", 8080)
BETA = TenantRoute("beta", "stopped")


class TestRouting:
    def test_a_running_tenant_is_reached_at_its_upstream_with_the_path_unchanged(self) -> None:
        assert table(ACME).resolve("acme.localhost", "/a/b%2F") == Upstream(
            "acme", "cial-tenant-acme", 8080, "/a/b%2F"
        )

    def test_two_tenants_never_share_a_route(self) -> None:
        other = TenantRoute("beta", "running", "cial-tenant-beta", 8080)
        routes = table(ACME, other)
        assert routes.resolve("acme.localhost", "/").host == "cial-tenant-acme"
        assert routes.resolve("beta.localhost", "/").host == "cial-tenant-beta"

    @pytest.mark.parametrize("host", ["nobody.localhost", "acmex.localhost"])
    def test_an_unknown_slug_is_404(self, host: str) -> None:
        with pytest.raises(NoRoute, match="No tenant is called"):
            table(ACME).resolve(host, "/")

    @pytest.mark.parametrize(
        "host", ["127.0.0.1", "evil.example", "acme.localhost.evil.example", "a.acme.localhost", "acme.local"]
    )
    def test_a_foreign_or_nested_host_routes_nowhere(self, host: str) -> None:
        with pytest.raises(NoRoute):
            table(ACME).resolve(host, "/")

    def test_no_host_is_400(self) -> None:
        with pytest.raises(BadHost):
            table(ACME).resolve("", "/")

    def test_the_bare_router_points_to_the_admin(self) -> None:
        with pytest.raises(Home, match="http://localhost:3100/admin") as raised:
            table().resolve("localhost", "/")
        assert raised.value.status == 200

    def test_a_tenant_that_is_not_running_is_503_with_retry_after_and_its_state_in_words(self) -> None:
        with pytest.raises(Unavailable, match="'beta' is stopped") as raised:
            table(BETA).resolve("beta.localhost", "/")
        assert raised.value.status == 503
        assert raised.value.headers["Retry-After"] == "5"

    def test_running_without_an_upstream_is_not_routed(self) -> None:
        with pytest.raises(Unavailable):
            table(TenantRoute("acme", "running")).resolve("acme.localhost", "/")

    def test_changes_apply_one_route_at_a_time(self) -> None:
        routes = table(ACME)
        routes.put(TenantRoute("acme", "stopping"))
        with pytest.raises(Unavailable, match="stopping"):
            routes.resolve("acme.localhost", "/")
        routes.remove("acme")
        with pytest.raises(NoRoute):
            routes.resolve("acme.localhost", "/")


def test_the_router_strips_exactly_the_apps_own_cookies() -> None:
    assert set(APP_COOKIES) == {SESSION_COOKIE, CSRF_COOKIE}
