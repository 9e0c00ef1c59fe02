"""Verifying the App's SSO token, exactly as docs/sso-contract.md writes it (RFC 8725).

Header ``{"alg": "HS256", "typ": "cial-sso+jwt", "kid": CIAL_SSO_KID}``; claims iss, aud (the
tenant's UUID), tenant (its slug), sub, email, role, iat, exp, jti, all required. The algorithm is
pinned (RFC 8725 §3.1): the header's ``alg`` is checked before anything else, so ``none`` and an
RS256 header over an HMAC signature (§2.1, algorithm confusion) are refused for what they are, and
PyJWT is told HS256 alone besides. ``typ`` is explicit (§3.11), so no other JWT signed with the
same key can pass for a sign-in. The single use of ``jti`` is the store's job
(:mod:`cial_core.sessions`): it needs the volume, this needs nothing but the clock.

Every refusal is a :class:`Refused` carrying the reason in plain words for the owner's browser;
no reason quotes the token.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

ALGORITHM = "HS256"
TOKEN_TYPE = "cial-sso+jwt"  # noqa: S105 - a media type, not a secret
DEFAULT_ISSUER = "cial-app"
DEFAULT_ADMIN_URL = "http://localhost:3100/admin"
LEEWAY_SECONDS = 5
REQUIRED_CLAIMS = ("iss", "aud", "tenant", "sub", "email", "role", "iat", "exp", "jti")
# The roles a token may carry; the contract knows only the owner.
ROLES = frozenset({"owner"})
# A JWT this long is not one of the App's (they are about 400 bytes); it is not parsed.
MAX_TOKEN_CHARS = 4096
_JTI = re.compile(r"[0-9a-f]{32}")
# Identity values end up in request headers the edge writes: visible ASCII only, bounded.
_HEADER_SAFE = re.compile(r"[!-~]{1,254}")


class Refused(Exception):
    """A sign-in that will not happen; ``reason`` is what the owner is told."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SsoSettings:
    """What Core is handed at create (``CIAL_SSO_*``, ``TENANT_*``). ``key`` is None when it is
    missing or unusable, and ``key_problem`` then says why."""

    key: bytes | None
    key_problem: str | None
    kid: str
    issuer: str
    tenant_id: str
    tenant_slug: str
    admin_url: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> SsoSettings:
        raw = environ.get("CIAL_SSO_KEY", "").strip()
        key: bytes | None = None
        problem: str | None = None
        kid = environ.get("CIAL_SSO_KID", "").strip()
        if not raw:
            problem = "this tenant has no SSO key; recreate it"
        elif not kid:
            problem = "this tenant has no SSO key id; recreate it"
        else:
            try:
                key = bytes.fromhex(raw)
            except ValueError:
                problem = "this tenant's SSO key is not valid; recreate it"
            else:
                if len(key) < 32:  # RFC 7518 §3.2: an HS256 key has at least 256 bits
                    key, problem = None, "this tenant's SSO key is too short; recreate it"
        return cls(
            key=key,
            key_problem=problem,
            kid=kid,
            issuer=environ.get("CIAL_SSO_ISSUER") or DEFAULT_ISSUER,
            tenant_id=environ.get("TENANT_ID", ""),
            tenant_slug=environ.get("TENANT_SLUG", ""),
            admin_url=environ.get("CIAL_ADMIN_URL") or DEFAULT_ADMIN_URL,
        )


@dataclass(frozen=True, slots=True)
class Grant:
    """A verified token: who signs in, and its id with how long that id must be remembered."""

    user_id: str
    email: str
    role: str
    jti: str
    keep_until: int


# PyJWT's errors, most specific first, and what the owner is told for each.
_REASONS: tuple[tuple[type[jwt.InvalidTokenError], str], ...] = (
    (jwt.ExpiredSignatureError, "This sign-in link has expired. Open the tenant again from the admin."),
    (
        jwt.InvalidSignatureError,
        "This sign-in link's signature does not match: it was changed, or signed for another tenant.",
    ),
    (jwt.InvalidAudienceError, "This sign-in link was made for another tenant."),
    (jwt.InvalidIssuerError, "This sign-in link was not issued by the Cial admin."),
    (jwt.ImmatureSignatureError, "This sign-in link is dated in the future; check the clocks."),
    (jwt.InvalidAlgorithmError, "This sign-in link is signed with an algorithm this tenant does not accept."),
    (jwt.DecodeError, "This sign-in link is damaged: its token cannot be read."),
)
MISSING = "This sign-in link has no token. Open the tenant from the admin."
MALFORMED = "This sign-in link is damaged: its token cannot be read."


class TokenVerifier:
    def __init__(self, settings: SsoSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._clock = clock

    def verify(self, token: str | None) -> Grant:
        """The grant in ``token``, or :class:`Refused` saying why not."""
        settings = self.settings
        if settings.key is None:
            raise Refused(f"Sign-in is not possible: {settings.key_problem}.")
        if not token:
            raise Refused(MISSING)
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            raise Refused(MALFORMED)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Refused(MALFORMED) from None
        if header.get("alg") != ALGORITHM:
            raise Refused("This sign-in link is signed with an algorithm this tenant does not accept.")
        if header.get("typ") != TOKEN_TYPE:
            raise Refused("This link's token is not a Cial sign-in token (wrong type).")
        if header.get("kid") != settings.kid:
            raise Refused(
                "This sign-in link is signed with a key this tenant does not know: it was made for "
                "another tenant, or before this tenant's key changed."
            )
        now = self._clock()
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                settings.key,
                algorithms=[ALGORITHM],
                audience=settings.tenant_id,
                issuer=settings.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": list(REQUIRED_CLAIMS), "verify_iat": True, "strict_aud": True},
            )
        except jwt.MissingRequiredClaimError as missing:
            raise Refused(f"This sign-in link's token lacks the {missing.claim!r} claim.") from None
        except jwt.InvalidTokenError as error:
            reason = next((said for kind, said in _REASONS if isinstance(error, kind)), None)
            raise Refused(reason or "This sign-in link's token is not valid.") from None
        return self._grant(claims, now)

    def _grant(self, claims: dict[str, Any], now: float) -> Grant:
        settings = self.settings
        # PyJWT checks these too, but against its own clock and with its own reading of the
        # claims' types; the contract's rules are written here once more, exactly.
        iat, exp = claims["iat"], claims["exp"]
        if not all(isinstance(value, int) and not isinstance(value, bool) for value in (iat, exp)):
            raise Refused("This sign-in link's token has times that are not whole seconds.")
        if exp + LEEWAY_SECONDS < now:
            raise Refused(_REASONS[0][1])
        if iat - LEEWAY_SECONDS > now:
            raise Refused("This sign-in link is dated in the future; check the clocks.")
        if claims["aud"] != settings.tenant_id or claims["tenant"] != settings.tenant_slug:
            raise Refused("This sign-in link was made for another tenant.")
        jti, sub, email, role = claims["jti"], claims["sub"], claims["email"], claims["role"]
        if not (isinstance(jti, str) and _JTI.fullmatch(jti)):
            raise Refused("This sign-in link's token has no valid id.")
        if not all(isinstance(value, str) and _HEADER_SAFE.fullmatch(value) for value in (sub, email)):
            raise Refused("This sign-in link's token names the user in a form this tenant cannot use.")
        if role not in ROLES:
            raise Refused("This sign-in link grants a role this tenant does not know.")
        # The id is remembered until the token could no longer be accepted anyway.
        return Grant(user_id=sub, email=email, role=role, jti=jti, keep_until=exp + LEEWAY_SECONDS)
