"""The service behind "Open": checks that the tenant can be opened by this user, and turns that
into the URL that signs them in there. The web layer calls this; this calls the pure functions.
"""

from __future__ import annotations

from cial_app.auth.service import Account
from cial_app.errors import Forbidden, Unavailable
from cial_app.settings import Settings
from cial_app.sso import rules
from cial_app.sso.keys import tenant_key
from cial_app.sso.tokens import mint
from cial_app.tenants.service import TenantService
from cial_app.tenants.states import TenantState

# Where the tenant's edge hands the token to Core (docs/sso-contract.md, the flow, step 2).
SSO_PATH = "/.cial/sso"


class SsoNotConfigured(Unavailable):
    code = "sso_not_configured"

    def __init__(self) -> None:
        super().__init__(
            "SSO is not configured (CIAL_SSO_SECRET): set it and restart the App; "
            "tenants created without it need to be re-created to get a key."
        )


class SsoService:
    def __init__(self, settings: Settings, tenants: TenantService) -> None:
        self._settings = settings
        self._tenants = tenants

    @property
    def configured(self) -> bool:
        return self._settings.sso_secret is not None

    def why_not_open(self, state: TenantState) -> str | None:
        """None when a tenant in `state` can be opened now, else why not (for the page to show
        instead of the Open link, so nobody clicks into a refusal)."""
        reason = rules.why_not(state)
        if reason is not None:
            return f"the tenant {reason}."
        if not self.configured:
            return "SSO is not configured (CIAL_SSO_SECRET)."
        return None

    async def open_url(self, slug: str, user: Account) -> str:
        """The one-minute sign-in link of `user` into tenant `slug`. The URL holds a bearer token:
        the caller hands it to the browser and writes it nowhere else (no log, no page)."""
        tenant = await self._tenants.get(slug)
        # The guard already asked for the owner; the tenant's own owner is checked too, so a
        # second account could never open tenants it did not create.
        if not user.is_owner or tenant.owner_id != user.id:
            raise Forbidden(f"Only the owner of tenant '{slug}' may open it.")
        rules.check_can_open(tenant.state, tenant.slug)
        master = self._settings.sso_secret
        if master is None:
            raise SsoNotConfigured()
        token = mint(
            tenant_key(master, str(tenant.id)),
            tenant_id=str(tenant.id),
            slug=tenant.slug,
            user_id=str(user.id),
            email=user.email,
        )
        return f"{self._settings.tenant_url(tenant.slug)}{SSO_PATH}?token={token}"
