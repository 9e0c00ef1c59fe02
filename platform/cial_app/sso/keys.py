"""Each tenant's SSO key, derived from the App's master secret and the tenant's id.

A key per tenant means a token minted for one tenant never verifies in another, and no tenant
ever holds the master secret. The derivation is fixed by docs/sso-contract.md; Core never derives
anything, it is handed the key and its id at create.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

# The version is in the derivation's context and the key id's prefix: a v2 derivation gives
# other keys and other ids, so a rotated key is never mistaken for the old one.
KEY_CONTEXT = b"cial-sso-tenant-key/v1/"
KID_PREFIX = "v1-"
# The contract asks for "at least 32 bytes of text"; a shorter master secret is refused at start.
MASTER_SECRET_MIN_BYTES = 32


@dataclass(frozen=True, slots=True)
class TenantKey:
    # Never in a repr: a key must not reach a log line or a traceback by accident.
    secret: bytes = field(repr=False)
    kid: str

    @property
    def hex(self) -> str:
        """As handed to the tenant in CIAL_SSO_KEY (lower-case hex)."""
        return self.secret.hex()


def tenant_key(master: str, tenant_id: str) -> TenantKey:
    """HMAC-SHA256(master, KEY_CONTEXT + tenant id), and its id: "v1-" + sha256(key)[:16 hex]."""
    if not master:
        raise ValueError("the SSO master secret is empty")
    if not tenant_id:
        raise ValueError("a tenant key needs the tenant's id")
    secret = hmac.new(master.encode(), KEY_CONTEXT + tenant_id.encode(), hashlib.sha256).digest()
    return TenantKey(secret=secret, kid=KID_PREFIX + hashlib.sha256(secret).hexdigest()[:16])
