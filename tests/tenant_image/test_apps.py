"""The four Litestar apps in-process: pages, health, visit counter, echo and 404s."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest
from cial_core.back.app import create_app as core_back
from cial_core.front.app import create_app as core_front
from cial_platform.back.app import create_app as platform_back
from cial_platform.front.app import create_app as platform_front
from litestar.testing import TestClient


@pytest.fixture(autouse=True)
def tenant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENANT_SLUG", "acme")


class TestCoreBack:
    def test_healthz_reports_ok_and_the_tenant(self, tmp_path: Path) -> None:
        with TestClient(core_back(tmp_path, siblings={})) as client:
            response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "service": "core-back", "tenant": "acme"}

    def test_healthz_says_starting_until_every_sibling_listens(self, tmp_path: Path) -> None:
        with socket.socket() as sibling:
            sibling.bind(("127.0.0.1", 0))
            port = sibling.getsockname()[1]
            with TestClient(core_back(tmp_path, siblings={"platform-front": port})) as client:
                starting = client.get("/healthz")
                assert starting.status_code == 503
                assert starting.json()["status"] == "starting"
                assert starting.json()["waiting_for"] == ["platform-front"]
                sibling.listen()
                assert client.get("/healthz").json()["status"] == "ok"
            sibling.close()

    def test_tenant_is_read_at_request_time(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        with TestClient(core_back(tmp_path, siblings={})) as client:
            monkeypatch.setenv("TENANT_SLUG", "later")
            assert client.get("/healthz").json()["tenant"] == "later"

    def test_post_counts_a_visit_and_get_only_reads(self, tmp_path: Path) -> None:
        with TestClient(core_back(tmp_path, siblings={})) as client:
            assert client.get("/visits").json() == {"visits": 0}
            assert client.post("/visits").json() == {"visits": 1}
            assert client.post("/visits").json() == {"visits": 2}
            assert client.get("/visits").json() == {"visits": 2}
        with TestClient(core_back(tmp_path, siblings={})) as client:
            assert client.get("/visits").json() == {"visits": 2}

    def test_a_damaged_counter_gets_503_with_the_reason(self, tmp_path: Path) -> None:
        (tmp_path / "visits.json").write_text("garbage")
        with TestClient(core_back(tmp_path, siblings={})) as client:
            response = client.post("/visits")
        assert response.status_code == 503
        assert "visits.json" in response.json()["detail"]

    def test_websocket_echoes_text_and_binary(self, tmp_path: Path) -> None:
        with (
            TestClient(core_back(tmp_path, siblings={})) as client,
            client.websocket_connect("/ws") as ws,
        ):
            ws.send_text("hello")
            assert ws.receive_text() == "hello"
            ws.send_bytes(b"\x00\x01")
            assert ws.receive_bytes() == b"\x00\x01"

    def test_unknown_path_gets_a_json_404(self, tmp_path: Path) -> None:
        with TestClient(core_back(tmp_path, siblings={})) as client:
            response = client.get("/nope")
        assert response.status_code == 404
        assert response.json()["status_code"] == 404


class TestCoreFront:
    def test_home_names_the_tenant(self) -> None:
        with TestClient(core_front()) as client:
            response = client.get("/.cial")
        assert response.status_code == 200
        assert "<h1>Cial Core · Tenant acme</h1>" in response.text

    def test_tenant_id_is_escaped(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("TENANT_SLUG", "<script>")
        with TestClient(core_front()) as client:
            assert "<script>" not in client.get("/.cial").text

    def test_websocket_echo_under_the_base_path(self) -> None:
        with TestClient(core_front()) as client, client.websocket_connect("/.cial/ws") as ws:
            ws.send_text("ping")
            assert ws.receive_text() == "ping"

    @pytest.mark.parametrize("path", ["/.cial/nope", "/", "/ws"])
    def test_other_paths_get_core_fronts_html_404(self, path: str) -> None:
        with TestClient(core_front()) as client:
            response = client.get(path)
        assert response.status_code == 404
        assert "Cial Core has no page" in response.text


class TestPlatform:
    def test_front_home_names_the_tenant(self) -> None:
        with TestClient(platform_front()) as client:
            assert "<h1>Platform · Tenant acme</h1>" in client.get("/").text

    def test_front_home_signed_out_says_so_and_offers_no_sign_out(self) -> None:
        with TestClient(platform_front()) as client:
            page = client.get("/").text
        assert "signed in as" not in page
        assert "/.cial/sign-out" not in page

    def test_front_home_names_who_the_edge_says_is_signed_in_escaped(self) -> None:
        with TestClient(platform_front()) as client:
            page = client.get("/", headers={"X-Cial-User-Email": "o<b>@example.com"}).text
        assert "Tenant acme · signed in as o&lt;b&gt;@example.com" in page
        assert '<form method="post" action="/.cial/sign-out">' in page

    def test_front_shows_the_request_headers_it_received(self) -> None:
        with TestClient(platform_front()) as client:
            seen = client.get("/.platform/request-headers", headers={"Cookie": "a=1", "X-Probe": "p"}).json()
        assert seen["headers"]["cookie"] == "a=1"
        assert seen["headers"]["x-probe"] == "p"

    def test_front_websocket_echo(self) -> None:
        with TestClient(platform_front()) as client, client.websocket_connect("/ws") as ws:
            ws.send_text("pong")
            assert ws.receive_text() == "pong"

    def test_front_unknown_path_gets_the_platforms_html_404(self) -> None:
        with TestClient(platform_front()) as client:
            response = client.get("/health")
        assert response.status_code == 404
        assert "The platform has no page" in response.text

    def test_back_health(self) -> None:
        with TestClient(platform_back()) as client:
            assert client.get("/health").json() == {
                "status": "ok",
                "service": "platform-back",
                "tenant": "acme",
            }


class TestCoreBackBulk:
    def test_a_body_is_hashed_as_it_arrives(self, tmp_path: Path) -> None:
        body = bytes(range(256)) * 4096 + b"tail"
        with TestClient(core_back(tmp_path, siblings={})) as client:
            response = client.post("/digest", content=body)
        assert response.json() == {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}

    def test_a_known_pattern_of_any_size_is_sent(self, tmp_path: Path) -> None:
        with TestClient(core_back(tmp_path, siblings={})) as client:
            response = client.get("/bytes/100000")
        assert response.headers["content-length"] == "100000"
        assert response.content == (bytes(range(256)) * 400)[:100000]

    def test_a_size_out_of_range_is_refused(self, tmp_path: Path) -> None:
        with TestClient(core_back(tmp_path, siblings={})) as client:
            assert client.get("/bytes/-1").status_code in (400, 404)
            assert client.get(f"/bytes/{2**40}").status_code == 400
