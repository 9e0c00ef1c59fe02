"""One line per request, and no query string in any log line.

Query strings carry SSO tokens, so the engine never logs them itself, and it scrubs the records of
the libraries that would: uvicorn names the full target in its WebSocket lines, httpx logs every
request URL at INFO, and the websockets client logs its request line at DEBUG.
"""

from __future__ import annotations

import logging
import re

logger = logging.getLogger("cial_proxy")

_QUERY = re.compile(r"\?[^\s\"'<>]+")
_LOGGERS_THAT_PRINT_TARGETS = (
    "uvicorn.error",
    "uvicorn.access",
    "httpx",
    "httpcore",
    "websockets.client",
    "websockets.server",
)


class RedactQueryStrings(logging.Filter):
    """Cuts ``?query`` out of a record's message before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "?" in message:
            record.msg, record.args = _QUERY.sub("", message), ()
        return True


def redact_query_strings() -> None:
    """Attach the filter to the loggers that print request targets (idempotent).

    A logger's own filter runs on every record made on it, before propagation, so the scrubbing
    holds whatever handlers the process (or a test's log capture) installs.
    """
    for name in _LOGGERS_THAT_PRINT_TARGETS:
        target = logging.getLogger(name)
        if not any(isinstance(existing, RedactQueryStrings) for existing in target.filters):
            target.addFilter(RedactQueryStrings())


def log_request(proxy: str, method: str, path: str, status: int, seconds: float, upstream: str) -> None:
    logger.info("%s %s %s %d %.1fms -> %s", proxy, method, path, status, seconds * 1000, upstream)
