"""What a tenant's machine is handed at create for SSO: its own key and key id, the issuer to
expect, and where its refusal page links back to. Never the master secret.
"""

from __future__ import annotations

from cial_app.sso.keys import tenant_key
from cial_app.sso.tokens import ISSUER

KEY_ENV = "CIAL_SSO_KEY"
KID_ENV = "CIAL_SSO_KID"
ISSUER_ENV = "CIAL_SSO_ISSUER"
ADMIN_URL_ENV = "CIAL_ADMIN_URL"


def sso_env(master: str | None, tenant_id: str, admin_url: str) -> dict[str, str]:
    """The SSO part of a machine's environment. Without a master secret the tenant gets no key,
    and Core refuses SSO with "this tenant has no SSO key; recreate it" (the contract)."""
    env = {ISSUER_ENV: ISSUER, ADMIN_URL_ENV: admin_url}
    if master:
        key = tenant_key(master, tenant_id)
        env |= {KEY_ENV: key.hex, KID_ENV: key.kid}
    return env
