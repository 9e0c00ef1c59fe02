"""The edge's request hook: identity headers come from the edge alone, Core's cookie never reaches
the platform, and a service-worker script is refused on the platform's paths."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from cial_core.edge import route
from cial_core.identity import EdgeIdentity
from cial_core.sessions import Identity, SessionReader, SignInStore
from cial_proxy import Forbidden, RequestHeaders, Upstream

SESSION = "S" * 43
PLATFORM = route("/")
CORE_BACK = route("/.cial/api/visits")
CORE_FRONT = route("/.cial")


@pytest.fixture
def edge(tmp_path: Path) -> EdgeIdentity:
    store = SignInStore(tmp_path)
    identity = Identity("42", "owner@example.com", "owner")
    store.open_session(jti=uuid.uuid4().hex, keep_until=2**40, identity=identity, session_id=SESSION)
    store.close()
    return EdgeIdentity(SessionReader(tmp_path))


def names(headers: RequestHeaders) -> list[bytes]:
    return [name for name, _ in headers]


FORGED: RequestHeaders = [
    (b"x-cial-user-email", b"mallory@example.com"),
    (b"x-cial-user-role", b"owner"),
    (b"x-cial-anything", b"1"),
    (b"accept", b"*/*"),
]


class TestEveryRoute:
    @pytest.mark.parametrize("upstream", [PLATFORM, CORE_BACK, CORE_FRONT], ids=lambda u: u.name)
    async def test_client_x_cial_headers_are_removed(self, edge: EdgeIdentity, upstream: Upstream) -> None:
        assert await edge(upstream, FORGED) == [(b"accept", b"*/*")]


class TestThePlatformRoute:
    async def test_a_live_session_becomes_identity_headers_and_its_cookie_is_removed(
        self, edge: EdgeIdentity
    ) -> None:
        headers = [*FORGED, (b"cookie", f"theme=dark; cial_core_session={SESSION}; lang=en".encode())]
        seen = dict(await edge(PLATFORM, headers))
        assert seen[b"cookie"] == b"theme=dark; lang=en"
        assert seen[b"x-cial-user-email"] == b"owner@example.com"
        assert seen[b"x-cial-user-id"] == b"42"
        assert seen[b"x-cial-user-role"] == b"owner"
        assert SESSION.encode() not in b"".join(value for _, value in seen.items())

    async def test_a_cookie_alone_is_dropped_with_its_header(self, edge: EdgeIdentity) -> None:
        seen = await edge(PLATFORM, [(b"cookie", f"cial_core_session={SESSION}".encode())])
        assert b"cookie" not in names(seen)

    @pytest.mark.parametrize("value", ["S" * 42 + "T", "garbage", ""])
    async def test_an_unknown_session_adds_nothing_and_still_loses_the_cookie(
        self, edge: EdgeIdentity, value: str
    ) -> None:
        seen = await edge(PLATFORM, [*FORGED, (b"cookie", f"cial_core_session={value}; a=1".encode())])
        assert seen == [(b"accept", b"*/*"), (b"cookie", b"a=1")]

    async def test_every_cookie_header_loses_it(self, edge: EdgeIdentity) -> None:
        headers = [(b"cookie", b"a=1"), (b"cookie", f"cial_core_session={SESSION}; b=2".encode())]
        seen = await edge(PLATFORM, headers)
        assert [value for name, value in seen if name == b"cookie"] == [b"a=1", b"b=2"]
        assert b"x-cial-user-email" in names(seen)

    @pytest.mark.parametrize("value", [b"script", b"Script ", b" SCRIPT"])
    async def test_a_service_worker_script_is_refused(self, edge: EdgeIdentity, value: bytes) -> None:
        with pytest.raises(Forbidden) as refused:
            await edge(PLATFORM, [(b"service-worker", value)])
        assert refused.value.status == 403

    async def test_other_requests_pass_untouched(self, edge: EdgeIdentity) -> None:
        headers: RequestHeaders = [(b"accept", b"text/html"), (b"cookie", b"a=1"), (b"user-agent", b"x")]
        assert await edge(PLATFORM, headers) == headers


class TestCoresRoutes:
    @pytest.mark.parametrize("upstream", [CORE_BACK, CORE_FRONT], ids=lambda u: u.name)
    async def test_keep_the_cookie_and_get_no_identity(self, edge: EdgeIdentity, upstream: Upstream) -> None:
        headers = [(b"cookie", f"cial_core_session={SESSION}".encode()), (b"service-worker", b"script")]
        assert await edge(upstream, headers) == headers
