from __future__ import annotations

import pytest
from cial_core.edge import EdgeResolver, route
from cial_core.services import CORE_BACK_SOCKET, CORE_FRONT_SOCKET


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
        assert (upstream.name, upstream.socket, upstream.path) == ("core-back", CORE_BACK_SOCKET, seen)


class TestSignIn:
    @pytest.mark.parametrize(("path", "seen"), [("/.cial/sso", "/sso"), ("/.cial/sign-out", "/sign-out")])
    def test_exact_paths_go_to_core_back(self, path: str, seen: str) -> None:
        upstream = route(path)
        assert (upstream.name, upstream.socket, upstream.path) == ("core-back", CORE_BACK_SOCKET, seen)

    @pytest.mark.parametrize("path", ["/.cial/sso/", "/.cial/sso/x", "/.cial/ssox", "/.cial/sign-out/"])
    def test_nothing_below_them_does(self, path: str) -> None:
        assert route(path).name == "core-front"


class TestCoreSockets:
    def test_are_in_the_directory_only_cial_may_enter(self) -> None:
        for path in (CORE_BACK_SOCKET, CORE_FRONT_SOCKET):
            assert path.startswith("/run/cial-core/")


class TestCoreFront:
    @pytest.mark.parametrize("path", ["/.cial", "/.cial/", "/.cial/ws", "/.cial/apix", "/.cial/x/api/y"])
    def test_goes_to_core_front_with_the_base_path_kept(self, path: str) -> None:
        upstream = route(path)
        assert (upstream.name, upstream.socket, upstream.path) == ("core-front", CORE_FRONT_SOCKET, path)


class TestPlatformFront:
    @pytest.mark.parametrize(
        "path",
        ["/", "/ws", "/health", "/.cialx", "/.cial-api", "/x/.cial/api/healthz", "//.cial/api", "/.CIAL"],
    )
    def test_everything_else_goes_to_platform_front_unchanged(self, path: str) -> None:
        upstream = route(path)
        assert (upstream.name, upstream.socket, upstream.port, upstream.path) == (
            "platform-front",
            None,
            3000,
            path,
        )

    @pytest.mark.parametrize("path", ["/", "/health", "/.cial/api/health", "/api/p/x", "/.cial/x"])
    def test_no_path_reaches_platform_back(self, path: str) -> None:
        assert route(path).port != 3001


class TestResolver:
    async def test_resolver_ignores_the_host(self) -> None:
        resolver = EdgeResolver()
        assert await resolver.resolve("a.localhost", "/.cial") == await resolver.resolve("b", "/.cial")
        assert (await resolver.resolve("x", "/.cial/api/healthz")).path == "/healthz"
