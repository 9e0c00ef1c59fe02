"""HTTP through the proxy, against real upstream servers."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cial_proxy import Upstream, create_proxy

from testkit.servers import running, upstream_config

from .conftest import (
    DEADLINE,
    GZIPPED,
    Backend,
    Stack,
    pattern,
    raw_exchange,
    stack_of,
)


def seen(response: httpx.Response) -> dict[str, Any]:
    """What the echoing upstream reports it received."""
    assert response.status_code == 200, response.text
    echoed: dict[str, Any] = response.json()
    return echoed


def header_values(echoed: dict[str, Any], name: str) -> list[str]:
    return [value for key, value in echoed["headers"] if key == name]


class TestRouting:
    async def test_the_resolver_picks_the_upstream_by_path(self, proxied: Stack) -> None:
        api = await proxied.client.get("/.cial/api/echo")
        page = await proxied.client.get("/some/page")
        assert seen(api)["served_by"] == "core-back"
        assert seen(page)["served_by"] == "platform-front"

    async def test_the_resolver_gets_the_bare_lower_case_host_and_the_path_without_query(
        self, proxied: Stack
    ) -> None:
        await proxied.client.get("/.cial/api/echo?token=abc", headers={"Host": "Acme.LocalHost:8080"})
        assert proxied.resolver.asked == [("acme.localhost", "/.cial/api/echo")]

    async def test_the_upstream_receives_the_path_the_resolver_rewrote_and_the_query(
        self, proxied: Stack
    ) -> None:
        echoed = seen(await proxied.client.get("/renamed/inner/echo?a=1&b=%20x"))
        assert echoed["path"] == "/inner/echo"
        assert echoed["query"] == "a=1&b=%20x"

    async def test_percent_encoding_in_the_path_reaches_the_upstream_untouched(self, proxied: Stack) -> None:
        echoed = seen(await proxied.client.get("/files/a%2Fb%20c/echo"))
        assert echoed["path"] == "/files/a%2Fb%20c/echo"

    async def test_dot_segments_are_resolved_before_routing_so_the_route_matches_what_is_sent(
        self, proxied: Stack
    ) -> None:
        head, body = await raw_exchange(
            proxied.port, b"GET /x/../.cial/api/echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
        assert head.startswith(b"HTTP/1.1 200")
        echoed = json.loads(body)
        assert (echoed["served_by"], echoed["path"]) == ("core-back", "/.cial/api/echo")
        assert proxied.resolver.asked == [("a", "/.cial/api/echo")]

    async def test_a_target_that_is_not_a_path_gets_400(self, proxied: Stack) -> None:
        head, body = await raw_exchange(
            proxied.port, b"GET http://elsewhere/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
        assert head.startswith(b"HTTP/1.1 400")
        assert b"must be a path" in body
        assert proxied.resolver.asked == []

    async def test_a_host_resolver_routes_tenants_by_host(self) -> None:
        class ByHost:
            def __init__(self, *backends: Backend) -> None:
                self.backends = {f"{backend.name}.localhost": backend for backend in backends}

            async def resolve(self, host: str, path: str) -> Upstream:
                return Upstream(host, "127.0.0.1", self.backends[host].port, path)

        acme, globex = Backend("acme"), Backend("globex")
        proxy = create_proxy(ByHost(acme, globex), name="router")
        async with (
            running(upstream_config(acme), upstream_config(globex)) as (acme.port, globex.port),
            proxy.running() as port,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
        ):
            first = await client.get("/", headers={"Host": "acme.localhost:8080"})
            second = await client.get("/", headers={"Host": "globex.localhost:8080"})
        assert (seen(first)["served_by"], seen(second)["served_by"]) == ("acme", "globex")


class TestPassThrough:
    async def test_status_headers_and_body_come_back_as_the_upstream_sent_them(self, proxied: Stack) -> None:
        response = await proxied.client.get("/status/418")
        assert response.status_code == 418
        assert response.headers["x-served-by"] == "platform-front"
        assert response.content == b"status body"

    async def test_method_and_request_body_reach_the_upstream(self, proxied: Stack) -> None:
        echoed = seen(await proxied.client.put("/.cial/api/echo", content=b'{"name": "acme"}'))
        assert (echoed["method"], echoed["body"]) == ("PUT", '{"name": "acme"}')

    async def test_a_head_request_gets_headers_and_no_body(self, proxied: Stack) -> None:
        response = await proxied.client.head("/gzip")
        assert response.status_code == 200
        assert response.headers["content-length"] == str(len(GZIPPED))
        assert response.content == b""

    async def test_every_set_cookie_header_survives(self, proxied: Stack) -> None:
        response = await proxied.client.get("/cookies")
        assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/; HttpOnly"]

    async def test_cookies_set_for_one_client_are_never_sent_on_anothers_request(
        self, proxied: Stack
    ) -> None:
        await proxied.client.get("/cookies")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{proxied.port}") as stranger:
            echoed = seen(await stranger.get("/echo"))
        assert header_values(echoed, "cookie") == []

    async def test_compressed_bodies_pass_still_compressed(self, proxied: Stack) -> None:
        async with proxied.client.stream("GET", "/gzip") as response:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["content-length"] == str(len(GZIPPED))
        assert raw == GZIPPED

    async def test_redirects_go_back_to_the_client_unfollowed(self, proxied: Stack) -> None:
        response = await proxied.client.get("/redirect")
        assert response.status_code == 302
        assert response.headers["location"] == "/elsewhere"


class TestHeaders:
    async def test_hop_by_hop_request_headers_stop_at_the_proxy(self, proxied: Stack) -> None:
        echoed = seen(
            await proxied.client.get(
                "/echo",
                headers={
                    "Connection": "keep-alive, X-Secret-Hop",
                    "X-Secret-Hop": "1",
                    "Keep-Alive": "timeout=5",
                    "TE": "trailers",
                    "Proxy-Authorization": "Basic c2VjcmV0",
                    "X-End-To-End": "kept",
                },
            )
        )
        names = {name for name, _ in echoed["headers"]}
        assert names.isdisjoint({"connection", "x-secret-hop", "keep-alive", "te", "proxy-authorization"})
        assert header_values(echoed, "x-end-to-end") == ["kept"]

    async def test_hop_by_hop_response_headers_stop_at_the_proxy(self, proxied: Stack) -> None:
        response = await proxied.client.get("/hop")
        for name in ("x-up-hop", "keep-alive", "proxy-authenticate", "trailer"):
            assert name not in response.headers
        assert "x-up-hop" not in response.headers.get("connection", "")
        assert response.headers["x-end-to-end"] == "kept"

    async def test_the_upstream_sees_its_own_host_and_the_original_in_x_forwarded_host(
        self, proxied: Stack
    ) -> None:
        echoed = seen(await proxied.client.get("/echo", headers={"Host": "acme.localhost:8080"}))
        assert header_values(echoed, "host") == [f"127.0.0.1:{proxied.platform.port}"]
        assert header_values(echoed, "x-forwarded-host") == ["acme.localhost:8080"]
        assert header_values(echoed, "x-forwarded-proto") == ["http"]

    async def test_the_client_address_replaces_any_forwarding_claims_the_client_made(
        self, proxied: Stack
    ) -> None:
        echoed = seen(
            await proxied.client.get(
                "/echo",
                headers={
                    "X-Forwarded-For": "203.0.113.7",
                    "Forwarded": "for=1.2.3.4",
                    "X-Real-IP": "1.2.3.4",
                },
            )
        )
        assert header_values(echoed, "x-forwarded-for") == ["127.0.0.1"]
        assert header_values(echoed, "forwarded") == header_values(echoed, "x-real-ip") == []

    async def test_behind_a_trusted_proxy_the_client_address_is_appended_to_x_forwarded_for(self) -> None:
        async with stack_of(trust_forwarded=True) as stack:
            echoed = seen(await stack.client.get("/echo", headers={"X-Forwarded-For": "203.0.113.7"}))
        assert header_values(echoed, "x-forwarded-for") == ["203.0.113.7, 127.0.0.1"]

    async def test_forwarded_host_and_proto_from_a_client_are_replaced_by_default(
        self, proxied: Stack
    ) -> None:
        echoed = seen(
            await proxied.client.get(
                "/echo",
                headers={
                    "Host": "acme.localhost",
                    "X-Forwarded-Host": "evil.example",
                    "X-Forwarded-Proto": "https",
                },
            )
        )
        assert header_values(echoed, "x-forwarded-host") == ["acme.localhost"]
        assert header_values(echoed, "x-forwarded-proto") == ["http"]

    async def test_behind_a_trusted_proxy_its_forwarded_host_and_proto_are_kept(self) -> None:
        async with stack_of(trust_forwarded=True) as stack:
            echoed = seen(
                await stack.client.get(
                    "/echo",
                    headers={"X-Forwarded-Host": "acme.localhost:8080", "X-Forwarded-Proto": "https"},
                )
            )
        assert header_values(echoed, "x-forwarded-host") == ["acme.localhost:8080"]
        assert header_values(echoed, "x-forwarded-proto") == ["https"]

    async def test_the_proxy_adds_no_headers_the_client_did_not_send(self, proxied: Stack) -> None:
        head, body = await raw_exchange(
            proxied.port, b"GET /echo HTTP/1.1\r\nHost: acme.localhost\r\nConnection: close\r\n\r\n"
        )
        assert head.startswith(b"HTTP/1.1 200")
        names = sorted(name for name, _ in json.loads(body)["headers"])
        assert names == ["host", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"]

    async def test_the_clients_user_agent_and_accept_encoding_pass_as_sent(self, proxied: Stack) -> None:
        echoed = seen(
            await proxied.client.get(
                "/echo", headers={"User-Agent": "probe/1", "Accept-Encoding": "identity"}
            )
        )
        assert header_values(echoed, "user-agent") == ["probe/1"]
        assert header_values(echoed, "accept-encoding") == ["identity"]


class TestStreaming:
    async def test_the_first_response_chunk_arrives_before_the_upstream_finishes(
        self, proxied: Stack
    ) -> None:
        async with proxied.client.stream("GET", "/stream") as response:
            chunks = response.aiter_raw()
            async with asyncio.timeout(DEADLINE):
                first = await anext(chunks)
            assert first == b"first"
            assert not proxied.platform.release.is_set()  # the upstream is still mid-response
            proxied.platform.release.set()
            rest = b"".join([chunk async for chunk in chunks])
        assert rest == b"second"

    async def test_the_upstream_reads_the_first_request_chunk_before_the_client_finishes(
        self, proxied: Stack
    ) -> None:
        async def body() -> AsyncIterator[bytes]:
            yield b"a" * 65536
            # Buffering the whole body in the proxy would make this wait run out.
            async with asyncio.timeout(DEADLINE):
                await proxied.platform.first_chunk_seen.wait()
            yield b"b" * 65536

        response = await proxied.client.post("/upload", content=body())
        expected = hashlib.sha256(b"a" * 65536 + b"b" * 65536).hexdigest()
        assert response.json() == {"size": 131072, "sha256": expected}

    async def test_a_large_upload_arrives_whole(self, proxied: Stack) -> None:
        data = pattern(8 * 1024 * 1024 + 123)

        async def body() -> AsyncIterator[bytes]:
            for offset in range(0, len(data), 100_000):
                yield data[offset : offset + 100_000]

        response = await proxied.client.post("/upload", content=body())
        assert response.json() == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    async def test_a_large_download_arrives_whole(self, proxied: Stack) -> None:
        size = 8 * 1024 * 1024 + 321
        digest, received = hashlib.sha256(), 0
        async with proxied.client.stream("GET", f"/bytes/{size}") as response:
            async for chunk in response.aiter_raw():
                digest.update(chunk)
                received += len(chunk)
        block = pattern(64 * 1024)
        expected = hashlib.sha256(b"".join(block[: size - offset] for offset in range(0, size, len(block))))
        assert (received, digest.hexdigest()) == (size, expected.hexdigest())

    async def test_a_response_cut_off_upstream_is_cut_off_for_the_client_too(self, proxied: Stack) -> None:
        with pytest.raises(httpx.RemoteProtocolError):
            await proxied.client.get("/cut")

    async def test_a_client_that_leaves_releases_the_upstream_request(self, proxied: Stack) -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", proxied.port)
        writer.write(b"GET /hang HTTP/1.1\r\nHost: a\r\n\r\n")
        async with asyncio.timeout(DEADLINE):
            await proxied.platform.hanging.wait()
            writer.close()
            await writer.wait_closed()
            await proxied.platform.hang_abandoned.wait()


class TestRefusals:
    async def test_no_route_gets_404_with_the_resolvers_message(self, proxied: Stack) -> None:
        response = await proxied.client.get("/missing/page?x=1")
        assert response.status_code == 404
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert response.text == "nothing serves /missing\n"

    async def test_an_unavailable_upstream_gets_503_with_the_resolvers_message(self, proxied: Stack) -> None:
        response = await proxied.client.post("/asleep", content=b"dropped")
        assert response.status_code == 503
        assert response.text == "acme is not running\n"


class TestUpstreamFailures:
    async def test_an_upstream_that_is_down_gets_502_naming_it(self, proxied: Stack) -> None:
        response = await proxied.client.get("/down/page")
        assert response.status_code == 502
        assert response.text == "core-back is not answering\n"

    async def test_an_upstream_that_does_not_answer_in_time_gets_504(self) -> None:
        async with stack_of(read_timeout=0.3) as stack:
            response = await stack.client.get("/hang")
        assert response.status_code == 504
        assert response.text == "platform-front did not answer in time\n"
