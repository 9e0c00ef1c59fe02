"""The WebSocket tunnel's throughput through cial_proxy, for two checkouts side by side. Never passes
or fails.

    .venv/bin/python bench/ws_tunnel.py [--other /work/main] [--mib 256] [--small 200000] [--rounds 3]

An echo upstream (it returns every byte as it came: frames stay frames) and a client live in this
process on uvloop; the proxy runs as the router would, in its own process, once with this
checkout's ``proxy/`` and once with ``--other``'s, in turns. With the option present the proxy pings
as the router does (20 s, which never fires in a run: what is measured is the cost of watching).
Two loads: ``--mib`` MiB in 64 KiB binary frames, echoed (bytes/s through both directions), and
``--small`` 32-byte frames, echoed (frames/s: the cost per frame). Printed: the median of
``--rounds`` per checkout, the ratio of the medians and the median of each round's ratio (the two
checkouts run back to back, in alternating order, so a round shares the machine's mood). Everything
binds to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import cast

import uvloop

ROOT = Path(__file__).resolve().parent.parent

PROXY_PROGRAM = r"""
import inspect, sys
from cial_proxy import Upstream, create_proxy, serve

class To:
    async def resolve(self, host, path):
        return Upstream("acme", "127.0.0.1", int(sys.argv[1]), path)

options = {}
if "websocket_ping_interval" in inspect.signature(create_proxy).parameters:
    options = {"websocket_ping_interval": 20.0, "websocket_ping_timeout": 20.0}
serve(create_proxy(To(), name="router", **options), host="127.0.0.1", port=int(sys.argv[2]),
      log_level="warning")
"""

HANDSHAKE = (
    b"GET /ws HTTP/1.1\r\nHost: acme.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
SWITCHING = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"


def masked(payload: bytes) -> bytes:
    """A client's binary frame; the zero key keeps the payload as it is (the proxy does not care)."""
    size = len(payload)
    if size < 126:
        head = bytes([0x82, 0x80 | size])
    elif size < 65536:
        head = bytes([0x82, 0x80 | 126]) + size.to_bytes(2, "big")
    else:
        head = bytes([0x82, 0x80 | 127]) + size.to_bytes(8, "big")
    return head + b"\x00\x00\x00\x00" + payload


class Echo(asyncio.Protocol):
    """The upstream: answers the handshake, then returns every byte."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's does not subclass it
        self.head = b""
        self.upgraded = False

    def data_received(self, data: bytes) -> None:
        if self.upgraded:
            self.transport.write(data)
            return
        self.head += data
        if b"\r\n\r\n" in self.head:
            self.upgraded = True
            rest = self.head.partition(b"\r\n\r\n")[2]
            self.transport.write(SWITCHING + rest)

    def pause_writing(self) -> None:
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.transport.resume_reading()


class Client(asyncio.Protocol):
    """Counts the echoed bytes after the 101; writes respect the proxy's pace."""

    def __init__(self) -> None:
        self.head = b""
        self.upgraded = asyncio.get_running_loop().create_future()
        self.received = 0
        self.target = 0
        self.done: asyncio.Future[None] | None = None
        self.writable = asyncio.Event()
        self.writable.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's does not subclass it
        self.transport.write(HANDSHAKE)

    def data_received(self, data: bytes) -> None:
        if not self.upgraded.done():
            self.head += data
            if b"\r\n\r\n" in self.head:
                self.received += len(self.head.partition(b"\r\n\r\n")[2])
                self.upgraded.set_result(None)
            return
        self.received += len(data)
        if self.done is not None and not self.done.done() and self.received >= self.target:
            self.done.set_result(None)

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()


async def echo_through(port: int, frame: bytes, count: int) -> float:
    """Seconds to send ``count`` copies of ``frame`` through the proxy and get them all back."""
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(Client, "127.0.0.1", port)
    await asyncio.wait_for(client.upgraded, 10)
    client.target = len(frame) * count
    client.done = loop.create_future()
    batch = max(1, 65536 // len(frame))
    block = frame * batch
    started = time.perf_counter()
    sent = 0
    while sent < count:
        await client.writable.wait()
        n = min(batch, count - sent)
        client.transport.write(block if n == batch else frame * n)
        sent += n
    await asyncio.wait_for(client.done, 120)
    took = time.perf_counter() - started
    client.transport.close()
    return took


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_proxy(checkout: Path, upstream_port: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(checkout / "proxy")}
    args = [sys.executable, "-c", PROXY_PROGRAM, str(upstream_port), str(port)]
    proxy = subprocess.Popen(args, env=env)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proxy, port
        except OSError:
            if time.monotonic() > deadline:
                proxy.kill()
                raise
            time.sleep(0.05)


async def run(checkouts: dict[str, Path], mib: int, small: int, rounds: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", 0)
    upstream_port = server.sockets[0].getsockname()[1]
    big, tiny = masked(b"x" * 65536), masked(b"y" * 32)
    results: dict[str, dict[str, list[float]]] = {name: {"MiB/s": [], "frames/s": []} for name in checkouts}
    for round_ in range(rounds):
        # Turns alternate who goes first: on a shared machine the second of a pair fared worse.
        turns = list(checkouts.items())
        for name, checkout in turns[::-1] if round_ % 2 else turns:
            proxy, port = start_proxy(checkout, upstream_port)
            try:
                await echo_through(port, big, 64)  # warm up
                took = await echo_through(port, big, mib * 16)
                results[name]["MiB/s"].append(mib / took)
                took = await echo_through(port, tiny, small)
                results[name]["frames/s"].append(small / took)
            finally:
                proxy.terminate()
                proxy.wait(10)
    server.close()
    names = list(checkouts)
    for unit in ("MiB/s", "frames/s"):
        medians = {name: statistics.median(results[name][unit]) for name in names}
        shown = ", ".join(f"{name} {medians[name]:,.0f}" for name in names)
        print(f"{unit:>8} echoed (median of {rounds}): {shown}")
        if len(names) == 2:
            pairs = zip(results[names[0]][unit], results[names[1]][unit], strict=True)
            paired = statistics.median(mine / theirs for mine, theirs in pairs)
            print(
                f"{'':>8} {names[0]} / {names[1]}: {medians[names[0]] / medians[names[1]]:.3f} "
                f"(ratio of medians), {paired:.3f} (median of the rounds' ratios)"
            )
        for name in names:
            print(f"{'':>8} {name}: " + ", ".join(f"{value:,.0f}" for value in results[name][unit]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--other", type=Path, help="another checkout to compare with (e.g. /work/main)")
    parser.add_argument("--mib", type=int, default=256, help="MiB echoed in 64 KiB frames")
    parser.add_argument("--small", type=int, default=200_000, help="32-byte frames echoed")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    checkouts = {"this": ROOT}
    if options.other is not None:
        checkouts["other"] = options.other
    uvloop.run(run(checkouts, options.mib, options.small, options.rounds))


if __name__ == "__main__":
    main()
