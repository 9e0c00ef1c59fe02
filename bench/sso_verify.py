"""What the SSO handoff costs in Core. Never passes or fails.

    .venv/bin/python bench/sso_verify.py [--rounds 200]

In-process (Core's own code and PyJWT, on this machine): the median microseconds of one token
verification (header checks, HMAC, claims), of the edge's session lookup (SQLite, one primary-key
read), and of the edge's header rewrite for a platform request with and without Core's cookie.

Through a real tenant container (`CIAL_TENANT_IMAGE`, default cial-tenant:dev): the median time
of `GET /.cial/sso?token=` with a fresh token each time (edge, core back: verify, spend the token
id and open a session, fsync, 303) against a plain `GET /.cial/api/healthz` (edge, core back),
and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "proxy"), str(ROOT / "tenant_image")]

import docker  # noqa: E402
import httpx  # noqa: E402
import jwt  # noqa: E402
from cial_core.back.sso import SsoSettings, TokenVerifier  # noqa: E402
from cial_core.edge import route  # noqa: E402
from cial_core.identity import EdgeIdentity  # noqa: E402
from cial_core.sessions import Identity, SessionReader, SignInStore  # noqa: E402

from testkit.polling import eventually  # noqa: E402

TENANT_ID = str(uuid.uuid4())
SLUG = "bench-sso"
KEY = os.urandom(32)
KID = "v1-bench000000000000"
IMAGE = os.environ.get("CIAL_TENANT_IMAGE", "cial-tenant:dev")


def mint() -> str:
    now = int(time.time())
    claims = {
        "iss": "cial-app",
        "aud": TENANT_ID,
        "tenant": SLUG,
        "sub": "1",
        "email": "bench@example.com",
        "role": "owner",
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, KEY, algorithm="HS256", headers={"typ": "cial-sso+jwt", "kid": KID})


def environ() -> dict[str, str]:
    return {"CIAL_SSO_KEY": KEY.hex(), "CIAL_SSO_KID": KID, "TENANT_ID": TENANT_ID, "TENANT_SLUG": SLUG}


def median_us(action: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def in_process(rounds: int) -> None:
    verifier = TokenVerifier(SsoSettings.from_environ(environ()))
    tokens = iter([mint() for _ in range(rounds)])
    verify_us = median_us(lambda: verifier.verify(next(tokens)), rounds)
    print(f"token verification (in-process)      median {verify_us:8.1f} µs")

    with tempfile.TemporaryDirectory() as directory:
        data = Path(directory)
        store = SignInStore(data)
        session = "S" * 43
        identity = Identity("1", "bench@example.com", "owner")
        store.open_session(jti=uuid.uuid4().hex, keep_until=2**40, identity=identity, session_id=session)
        reader = SessionReader(data)
        lookup_us = median_us(lambda: reader.lookup(session), rounds)
        print(f"edge session lookup (SQLite)         median {lookup_us:8.1f} µs")
        edge = EdgeIdentity(reader)
        platform = route("/")
        plain = [(b"host", b"t.localhost"), (b"accept", b"text/html"), (b"user-agent", b"bench")]
        with_cookie = [*plain, (b"cookie", f"theme=dark; cial_core_session={session}".encode())]
        for label, headers in (("no cookie", plain), ("Core's cookie", with_cookie)):
            cost = median_us(lambda h=headers: edge.rewrite(platform, h), rounds)  # type: ignore[misc]
            print(f"edge header rewrite, {label:<15} median {cost:8.1f} µs")
        reader.close()
        store.close()


def through_container(rounds: int) -> None:
    client = docker.from_env()
    ports: dict[str, Any] = {"8080/tcp": ("127.0.0.1",)}
    container = client.containers.run(
        IMAGE,
        detach=True,
        environment=environ(),
        ports=ports,
        labels={"cial.bench": "sso-verify"},
        mem_limit="256m",
    )
    try:

        def url() -> str:
            container.reload()
            bindings = container.attrs["NetworkSettings"]["Ports"].get("8080/tcp")
            return f"http://127.0.0.1:{bindings[0]['HostPort']}" if bindings else ""

        base = eventually(url, timeout=30, what="port 8080 published")
        with httpx.Client(base_url=base, timeout=10) as http:
            eventually(
                lambda: http.get("/.cial/api/healthz").status_code == 200,
                timeout=60,
                what="the tenant healthy",
            )
            for _ in range(20):  # warm both paths and the connection
                http.get("/.cial/api/healthz")
                http.get("/.cial/sso", params={"token": mint()})
            tokens = iter([mint() for _ in range(rounds)])

            def sso() -> None:
                assert http.get("/.cial/sso", params={"token": next(tokens)}).status_code == 303

            def health() -> None:
                assert http.get("/.cial/api/healthz").status_code == 200

            sso_us = median_us(sso, rounds)
            health_us = median_us(health, rounds)
        print(f"through {IMAGE}:")
        print(f"GET /.cial/sso?token= (fresh token)  median {sso_us / 1000:8.2f} ms")
        print(f"GET /.cial/api/healthz               median {health_us / 1000:8.2f} ms")
        print(f"ratio sso / healthz                         {sso_us / health_us:8.2f}")
    finally:
        container.remove(force=True, v=True)
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--no-container", action="store_true", help="only the in-process figures")
    arguments = parser.parse_args()
    in_process(arguments.rounds)
    if not arguments.no_container:
        through_container(arguments.rounds)


if __name__ == "__main__":
    main()
