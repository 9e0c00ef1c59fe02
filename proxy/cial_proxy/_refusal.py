"""The short answers the proxy gives itself, when no upstream will.

Small and exact: JSON (``{"error": message, "status": n}``) for a client whose Accept prefers
``application/json``, a tiny HTML page for a browser (Accept names ``text/html``), plain text
otherwise. The message is the resolver's or the engine's own, never anything from the request.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from http import HTTPStatus

# The status a client that went away gets in the log (nginx's convention); it is never sent.
CLIENT_CLOSED = 499


def _quality(accept: bytes, media_type: bytes) -> float:
    """The q-value ``accept`` gives exactly ``media_type`` (RFC 9110 §12.5.1), 0 if it is not named."""
    for part in accept.split(b","):
        name, *params = part.split(b";")
        if name.strip().lower() != media_type:
            continue
        for param in params:
            key, _, value = param.partition(b"=")
            if key.strip().lower() == b"q":
                try:
                    return float(value.strip())
                except ValueError:
                    return 0.0
        return 1.0
    return 0.0


def body_for(status: int, message: str, accept: bytes) -> tuple[bytes, bytes]:
    """The content type and body of a refusal, in the form the client prefers."""
    as_json, as_html = _quality(accept, b"application/json"), _quality(accept, b"text/html")
    if as_json > 0 and as_json >= as_html:
        return b"application/json", json.dumps({"error": message, "status": status}).encode()
    if as_html > 0:
        title = f"{status} {_phrase(status)}"
        page = (
            f'<!doctype html><html lang="en"><meta charset="utf-8"><title>{title}</title>'
            f"<h1>{title}</h1><p>{html.escape(message)}</p></html>\n"
        )
        return b"text/html; charset=utf-8", page.encode()
    return b"text/plain; charset=utf-8", (message + "\n").encode()


def refusal(
    status: int,
    message: str,
    *,
    accept: bytes = b"",
    headers: Mapping[str, str] | None = None,
    keep_alive: bool = False,
    head: bool = False,
) -> bytes:
    """A whole HTTP/1.1 response, ready to write."""
    content_type, body = body_for(status, message, accept)
    lines = [
        f"HTTP/1.1 {status} {_phrase(status)}".encode(),
        b"content-type: " + content_type,
        b"content-length: " + str(len(body)).encode(),
    ]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}".encode("latin-1"))
    if not keep_alive:
        lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + (b"" if head else body)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
