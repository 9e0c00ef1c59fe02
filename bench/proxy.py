"""Figures for the proxy engine beside nginx, measured side by side in one run. Never passes or fails.

    .venv/bin/python bench/proxy.py [--seconds 5] [--no-tenant] [--no-autobahn]

Same small upstream for everyone: a fixed-body keep-alive HTTP server on uvloop (one process).
wrk (one thread) drives, at 1, 32 and 64 connections:
- the upstream directly;
- nginx, one worker, proxying to it with upstream keep-alive (Debian's package, installed with
  apt-get if missing, as wrk is);
- cial_proxy as the router will run it: a host resolver, one process, uvloop.
Then, unless told not to: `/` through a real tenant container's edge (the image in
$CIAL_TENANT_IMAGE, default cial-tenant:dev), and the time Autobahn's case group 9 (large and
many messages) takes through that edge to Core's echo. Printed: req/s, p50, and the ratios the
targets are stated in (router >= 0.3x nginx at 32 connections; no collapse at 64; added p50 at
one connection <= 0.5 ms). Everything binds to 127.0.0.1 and every load run is bounded in time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONNECTIONS = (1, 32, 64)

UPSTREAM_PROGRAM = r"""
import asyncio, sys, uvloop
BODY = b"hello from the upstream\n"
RESPONSE = (b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n\r\n" % len(BODY)) + BODY

class Fixed(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""
    def data_received(self, data):
        self.buffer += data
        count = self.buffer.count(b"\r\n\r\n")  # GET only: every head ends a request
        if count:
            self.buffer = self.buffer[self.buffer.rfind(b"\r\n\r\n") + 4:]
            self.transport.write(RESPONSE * count)

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Fixed, "127.0.0.1", int(sys.argv[1]), backlog=1024)
    await server.serve_forever()

uvloop.run(main())
"""

ROUTER_PROGRAM = r"""
import sys
from cial_proxy import NoRoute, Upstream, create_proxy, serve

class ByHost:
    # the router's shape: {slug}.localhost -> that tenant's upstream
    def __init__(self, port):
        self.table = {"acme.localhost": ("127.0.0.1", port)}
    async def resolve(self, host, path):
        try:
            address = self.table[host]
        except KeyError:
            raise NoRoute("no such tenant") from None
        return Upstream(host.partition(".")[0], address[0], address[1], path)

serve(create_proxy(ByHost(int(sys.argv[1])), name="router"), host="127.0.0.1", port=int(sys.argv[2]),
      log_level="warning")
"""

# The router as `python -m cial_app.router` builds it, less the database: the route table with one
# running tenant, the idle-tenant resolver and waker, the metrics and activity observers, the
# WebSocket pings. Beside ROUTER_PROGRAM (the engine with a dict), it shows what the router's own
# per-request work costs.
FULL_ROUTER_PROGRAM = r"""
import sys, time
from cial_proxy import create_proxy, serve
from cial_app.router.activity import Activity, Observers
from cial_app.router.main import APP_COOKIES
from cial_app.router.metrics import RouterMetrics
from cial_app.router.table import RouteTable, TenantRoute
from cial_app.router.waking import IdleResolver, Waker

class NoApp:  # never called: the tenant is running
    async def idle(self, slug): return False
    async def wake(self, slug): raise AssertionError("a running tenant is never woken")
    async def aclose(self): pass

table = RouteTable()
table.replace_all([TenantRoute("acme", "running", "127.0.0.1", int(sys.argv[1]), 900)])
activity = Activity(time.monotonic)
proxy = create_proxy(
    IdleResolver(table, Waker(table, NoApp(), activity)), name="router", strip_cookies=APP_COOKIES,
    observer=Observers(RouterMetrics(), activity), websocket_ping_interval=20.0, websocket_ping_timeout=20.0,
)
serve(proxy, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""

NGINX_CONFIG = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream tenant {{ server 127.0.0.1:{upstream}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://tenant;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


@dataclass
class Run:
    requests_per_second: float
    p50_ms: float


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def ensure_tools() -> None:
    missing = [tool for tool in ("nginx", "wrk") if shutil.which(tool) is None]
    if missing:
        print(f"installing {', '.join(missing)} with apt-get", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, stdout=subprocess.DEVNULL)


def wait_listening(port: int, deadline_seconds: float = 10.0) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


@contextlib.contextmanager
def process(*args: str, port: int, env: dict[str, str] | None = None) -> Iterator[None]:
    child = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_listening(port)
        yield
    finally:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def wrk(url: str, connections: int, seconds: float, host: str | None = None) -> Run:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "5s"]
    if host:
        args += ["-H", f"Host: {host}"]
    output = subprocess.run(
        [*args, url], capture_output=True, text=True, check=True, timeout=seconds + 30
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    match = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", output)
    assert match is not None, output
    p50 = float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        print(f"  ! {errors.group(1)} non-2xx responses from {url}", flush=True)
    return Run(rate, p50)


def measure(label: str, url: str, seconds: float, host: str | None = None) -> dict[int, Run]:
    wrk(url, 8, 1.0, host)  # warm-up: connections, pools, caches
    runs = {connections: wrk(url, connections, seconds, host) for connections in CONNECTIONS}
    cells = "  ".join(
        f"c{c}: {r.requests_per_second:9,.0f} req/s p50 {r.p50_ms:6.2f} ms" for c, r in runs.items()
    )
    print(f"{label:<12} {cells}", flush=True)
    return runs


def proxies(seconds: float) -> None:
    upstream_port, nginx_port, router_port, full_port = free_port(), free_port(), free_port(), free_port()
    python = sys.executable
    env = {**os.environ, "PYTHONPATH": str(ROOT / "proxy")}
    full_env = {**os.environ, "PYTHONPATH": f"{ROOT / 'proxy'}:{ROOT / 'platform'}"}
    with tempfile.TemporaryDirectory(prefix="cial-bench-nginx-") as scratch:
        config = Path(scratch) / "nginx.conf"
        config.write_text(NGINX_CONFIG.format(dir=scratch, upstream=upstream_port, port=nginx_port))
        with (
            process(python, "-c", UPSTREAM_PROGRAM, str(upstream_port), port=upstream_port),
            process("nginx", "-c", str(config), "-p", scratch, port=nginx_port),
            process(
                python, "-c", ROUTER_PROGRAM, str(upstream_port), str(router_port), port=router_port, env=env
            ),
            process(
                python,
                "-c",
                FULL_ROUTER_PROGRAM,
                str(upstream_port),
                str(full_port),
                port=full_port,
                env=full_env,
            ),
        ):
            direct = measure("upstream", f"http://127.0.0.1:{upstream_port}/", seconds)
            nginx = measure("nginx", f"http://127.0.0.1:{nginx_port}/", seconds)
            router = measure(
                "cial_proxy", f"http://127.0.0.1:{router_port}/", seconds, host="acme.localhost:8080"
            )
            full = measure(
                "full router", f"http://127.0.0.1:{full_port}/", seconds, host="acme.localhost:8080"
            )
    print()
    for c in CONNECTIONS:
        ratio = full[c].requests_per_second / router[c].requests_per_second
        versus_nginx = full[c].requests_per_second / nginx[c].requests_per_second
        print(f"full router / engine alone at {c:>2} connections: {ratio:.2f}x (/ nginx {versus_nginx:.2f}x)")
    for c in CONNECTIONS:
        ratio = router[c].requests_per_second / nginx[c].requests_per_second
        print(
            f"router / nginx at {c:>2} connections: {ratio:.2f}x"
            + ("   (target >= 0.3x, aim 0.5x)" if c == 32 else "")
        )
    held = router[64].requests_per_second / router[1].requests_per_second
    print(f"router at 64 / router at 1:        {held:.2f}x   (target >= 1: no collapse)")
    added = router[1].p50_ms - direct[1].p50_ms
    print(
        f"router added p50 at 1 connection:  {added:.3f} ms (target <= 0.5 ms; nginx adds "
        f"{nginx[1].p50_ms - direct[1].p50_ms:.3f} ms)"
    )


def tenant(seconds: float, autobahn: bool) -> None:
    import docker
    from docker.models.containers import Container

    from spec.autobahn import failures, run_cases

    image = os.environ.get("CIAL_TENANT_IMAGE", "cial-tenant:dev")
    client = docker.from_env()
    labels = {"cial.bench": f"proxy-{os.getpid()}"}
    # (host_ip,) means a free port on that address; the SDK's types only know (host_ip, port).
    ports: dict[str, Any] = {"8080/tcp": ("127.0.0.1",)}
    container: Container = client.containers.run(
        image,
        detach=True,
        environment={"TENANT_ID": "0b7c5e1e-0000-4000-8000-00000000be4c", "TENANT_SLUG": "bench"},
        ports=ports,
        labels=labels,
        mem_limit="256m",
        restart_policy={"Name": "on-failure"},
    )
    try:
        deadline = time.monotonic() + 60
        port = 0
        while not port:
            container.reload()
            bindings = container.attrs["NetworkSettings"]["Ports"].get("8080/tcp")
            port = int(bindings[0]["HostPort"]) if bindings else 0
            if time.monotonic() > deadline:
                raise TimeoutError("port 8080 never published")
            time.sleep(0.05)
        import httpx

        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/.cial/api/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("the tenant never became healthy")
            time.sleep(0.2)
        print()
        for connections in (1, 16):
            wrk(f"http://127.0.0.1:{port}/", 2, 1.0)
            run = wrk(f"http://127.0.0.1:{port}/", connections, seconds)
            print(
                f"tenant edge `/` at c{connections:<2}: {run.requests_per_second:8,.0f} req/s "
                f"p50 {run.p50_ms:.2f} ms"
            )
        if autobahn:
            started = time.monotonic()
            cases = run_cases(f"ws://127.0.0.1:{port}/.cial/api/ws", include=["9.*"], timeout=600)
            took = time.monotonic() - started
            container.reload()
            restarts = container.attrs["RestartCount"]
            print(
                f"Autobahn group 9 through the edge: {len(cases)} cases in {took:.1f} s wall, "
                f"failed: {failures(cases) or 'none'}, container restarts {restarts}"
            )
            for case, mib in (("9.1.6", 16), ("9.2.6", 16), ("9.3.9", 4)):
                ms = cases.get(case, {}).get("duration") or 0
                rate = f"{mib / (ms / 1000):.0f} MiB/s" if ms else "-"
                print(f"  {case} ({mib} MiB echoed): {ms} ms, {rate}")
    finally:
        container.remove(force=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each load run")
    parser.add_argument("--no-tenant", action="store_true", help="skip the tenant container")
    parser.add_argument("--no-autobahn", action="store_true", help="skip Autobahn's group 9")
    options = parser.parse_args()
    ensure_tools()
    proxies(options.seconds)
    if not options.no_tenant:
        tenant(options.seconds, autobahn=not options.no_autobahn)


if __name__ == "__main__":
    main()
