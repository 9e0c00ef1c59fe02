"""Ports no one can take between the moment a test picks them and the moment they are used.

Picking a "free" port, closing the probe socket and then handing the number to a server leaves a
window in which another process (a parallel run, Docker) takes it. Instead:

- an in-process server is handed a socket bound to port 0 (`listening_socket`), the port read
  from the socket;
- a port that must refuse connections stays bound, never listening, for as long as the test
  needs it (`closed_port`);
- where Docker publishes, it picks (publish to 127.0.0.1 with no host port) and the test reads
  the port back (`published_port`).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

LOOPBACK = "127.0.0.1"


def listening_socket(host: str = LOOPBACK, backlog: int = 128) -> socket.socket:
    """A TCP socket bound to a port the kernel picked, already listening (pass it to the server)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, 0))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def port_of(sock: socket.socket) -> int:
    port: int = sock.getsockname()[1]
    return port


@contextmanager
def closed_port(host: str = LOOPBACK) -> Iterator[int]:
    """A port that refuses connections: bound (so nothing else can take it) but never listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        yield port_of(sock)


def published_port(container: Any, container_port: str = "8080/tcp", host: str = LOOPBACK) -> int:
    """The host port Docker picked for `container_port` on `host` (a docker SDK container)."""
    container.reload()
    bindings = container.attrs["NetworkSettings"]["Ports"].get(container_port) or []
    ports = [int(b["HostPort"]) for b in bindings if b.get("HostIp") in (host, "") and b.get("HostPort")]
    if not ports:
        raise AssertionError(f"{container.name}: {container_port} is not published on {host}: {bindings}")
    return ports[0]


def released_port(host: str = LOOPBACK) -> int:
    """A port the kernel picked, released again for a child process that can only be told a number.

    The one pick-then-use left (the window is short, not closed): use it only where the program
    under test neither takes a socket nor port 0 (the proxy's `serve`, `python -m cial_app`).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return port_of(sock)
