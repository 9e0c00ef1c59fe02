"""JWTs made by hand, as an attacker would: any header, a changed body under the old signature.

PyJWT refuses to write such tokens (`alg: none`, an RS256 header over an HMAC signature), so both
the fast tests of Core's verifier and the whole-stack L5 spec build them here (RFC 7515 compact
serialisation, RFC 8725 §2.1 for the algorithm confusion).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], claims: dict[str, Any], key: bytes, *, sign: bool) -> str:
    """`header.claims.signature`, the signature HMAC-SHA256 with `key` whatever the header says,
    or empty when `sign` is false (what `alg: none` carries)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = b64url(hmac.new(key, signing_input.encode(), hashlib.sha256).digest()) if sign else ""
    return f"{signing_input}.{signature}"


def tampered(token: str, **changes: Any) -> str:
    """The same header and signature over claims changed after signing (default: another email)."""
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body.update(changes or {"email": "mallory@example.com"})
    return f"{header}.{b64url(json.dumps(body).encode())}.{signature}"
