from __future__ import annotations

import pytest
from cial_core.edge import EdgeResolver, route


class TestCoreApi:
    @pytest.mark.parametrize(
        ("path", "seen"),
        [
            ("/.cial/api/healthz", "/healthz"),
            ("/.cial/api/visits", "/visits"),
            ("/.cial/api/ws", "/ws"),
            ("/.cial/api/a/b/", "/a/b/"),
            ("/.cial/api", "/"),
            ("/.cial/api/", "/"),
        ],
    )
    def test_goes_to_core_back_with_the_prefix_stripped(self, path: str, seen: str) -> None:
        upstream = route(path)
        assert (upstream.name, upstream.host, upstream.port, upstream.path) == (
            "core-back",
            "127.0.0.1",
            4000,
            seen,
        )


class TestCoreFront:
    @pytest.mark.parametrize("path", ["/.cial", "/.cial/", "/.cial/ws", "/.cial/apix", "/.cial/x/api/y"])
    def test_goes_to_core_front_with_the_base_path_kept(self, path: str) -> None:
        upstream = route(path)
        assert (upstream.name, upstream.port, upstream.path) == ("core-front", 4001, path)


class TestPlatformFront:
    @pytest.mark.parametrize(
        "path",
        ["/", "/ws", "/health", "/.cialx", "/.cial-api", "/x/.cial/api/healthz", "//.cial/api", "/.CIAL"],
    )
    def test_everything_else_goes_to_platform_front_unchanged(self, path: str) -> None:
        upstream = route(path)
        assert (upstream.name, upstream.port, upstream.path) == ("platform-front", 3000, path)

    @pytest.mark.parametrize("path", ["/", "/health", "/.cial/api/health", "/api/p/x", "/.cial/x"])
    def test_no_path_reaches_platform_back(self, path: str) -> None:
        assert route(path).port != 3001


class TestResolver:
    async def test_resolver_ignores_the_host(self) -> None:
        resolver = EdgeResolver()
        assert await resolver.resolve("a.localhost", "/.cial") == await resolver.resolve("b", "/.cial")
        assert (await resolver.resolve("x", "/.cial/api/healthz")).path == "/healthz"
