"""The token "Open" carries to a tenant: a one-minute HS256 JWT for that tenant alone.

Header and claims are fixed by docs/sso-contract.md (Core requires every claim). Pure: the time
and the token id can be passed in, so tests pin them.
"""

from __future__ import annotations

import time
import uuid

import jwt

from cial_app.sso.keys import TenantKey

ALGORITHM = "HS256"
# Its own media type in `typ` (RFC 8725 §3.11): a JWT made for anything else is refused by Core.
TOKEN_TYPE = "cial-sso+jwt"  # noqa: S105  # a media type, not a secret
ISSUER = "cial-app"
ROLE = "owner"
# Long enough for a browser to follow a redirect, short enough that a leaked URL is soon useless.
LIFETIME_SECONDS = 60


def mint(
    key: TenantKey,
    *,
    tenant_id: str,
    slug: str,
    user_id: str,
    email: str,
    now: int | None = None,
    jti: str | None = None,
) -> str:
    """A token that signs `email` (user `user_id`) in as the owner of tenant `slug` (`tenant_id`)."""
    issued = int(time.time()) if now is None else now
    claims = {
        "iss": ISSUER,
        "aud": tenant_id,
        "tenant": slug,
        "sub": user_id,
        "email": email,
        "role": ROLE,
        "iat": issued,
        "exp": issued + LIFETIME_SECONDS,
        # Core keeps every jti it has accepted: one token, one sign-in.
        "jti": uuid.uuid4().hex if jti is None else jti,
    }
    return jwt.encode(claims, key.secret, algorithm=ALGORITHM, headers={"typ": TOKEN_TYPE, "kid": key.kid})
