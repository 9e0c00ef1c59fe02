"""Docker's HEALTHCHECK: healthy when the whole path edge -> core back answers ``/.cial/api/healthz``.

Uses only the standard library's ``http.client`` so that a probe every few seconds stays cheap.
"""

from __future__ import annotations

import http.client
import json
import sys

from cial_core.services import EDGE_PORT

HEALTH_PATH = "/.cial/api/healthz"


def probe(host: str = "127.0.0.1", port: int = EDGE_PORT, timeout: float = 2.0) -> str | None:
    """None when healthy, otherwise the reason it is not."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", HEALTH_PATH)
        response = connection.getresponse()
        body = response.read()
    except OSError as error:
        return f"{HEALTH_PATH} unreachable: {error}"
    finally:
        connection.close()
    if response.status != 200:
        return f"{HEALTH_PATH} answered {response.status}"
    try:
        status = json.loads(body).get("status")
    except (ValueError, AttributeError):
        return f"{HEALTH_PATH} answered something that is not a JSON object"
    return None if status == "ok" else f"{HEALTH_PATH} reports status {status!r}"


def main() -> int:
    reason = probe()
    if reason is not None:
        print(reason, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
