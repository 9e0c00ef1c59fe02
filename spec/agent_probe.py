"""What code running as `agent` inside a tenant can open: the attacker's view, from inside.

Each target is a unix socket path, a directory or host:port; the answer per target is "open",
"listed" (a directory it could read) or the name of the error that stopped it.
"""

from __future__ import annotations

from docker.models.containers import Container

PLATFORM_PYTHON = "/opt/cial-platform/venv/bin/python"

PROBE = """
import os, socket, sys
for target in sys.argv[1:]:
    try:
        if target.startswith("/"):
            if os.path.isdir(target):
                os.listdir(target)
                print(target, "listed")
                continue
            connection = socket.socket(socket.AF_UNIX)
            connection.settimeout(3)
            connection.connect(target)
        else:
            host, _, port = target.rpartition(":")
            connection = socket.create_connection((host, int(port)), timeout=3)
        connection.close()
        print(target, "open")
    except OSError as error:
        print(target, type(error).__name__)
"""


def probe_as_agent(tenant: Container, targets: list[str]) -> dict[str, str]:
    """Try each target as `agent`, with the platform's own interpreter."""
    code, output = tenant.exec_run([PLATFORM_PYTHON, "-c", PROBE, *targets], user="agent")
    assert isinstance(output, bytes) and code == 0, output
    return dict(line.split(" ", 1) for line in output.decode().splitlines())
