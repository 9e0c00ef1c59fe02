"""The router's two calls to the App: "this tenant is idle" and "wake this tenant".

The router decides when (it alone sees the traffic); the App does it, through the same
provisioning as the owner's buttons (its locks, its start slots, its health check), and records
it. The router learns the outcome from the tenant's change notifications, as every other change.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import quote

import httpx

# The App answers at once (its work runs in the background); only its lock on the tenant can
# hold an answer up, while a stop's engine call finishes.
_TIMEOUT = 30.0


class Refused(Exception):
    """The App will not do it (the tenant's state forbids it, or it is gone); `reason` says why."""

    def __init__(self, reason: str, *, status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class Unreachable(Exception):
    """The App did not answer (down, restarting): nothing is known to have happened."""


class TenantControl(Protocol):
    async def idle(self, slug: str) -> bool:
        """Stop the tenant for being idle; True if it is now being stopped (or already was)."""
        ...

    async def wake(self, slug: str) -> None:
        """Start the tenant unless it is up or coming up. Raises Refused or Unreachable."""
        ...

    async def aclose(self) -> None: ...


class AppControl:
    """TenantControl over HTTP, with the router's bearer token (CIAL_ROUTER_TOKEN)."""

    def __init__(self, url: str, token: str, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        # trust_env=False: a proxy in the environment must neither capture the App's internal
        # name nor see the token.
        self._client = httpx.AsyncClient(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=_TIMEOUT,
            transport=transport,
            trust_env=False,
        )

    async def idle(self, slug: str) -> bool:
        try:
            await self._call(slug, "idle")
        except Refused:
            return False
        return True

    async def wake(self, slug: str) -> None:
        await self._call(slug, "wake")

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _call(self, slug: str, verb: str) -> None:
        try:
            response = await self._client.post(f"/api/router/tenants/{quote(slug, safe='')}/{verb}")
        except httpx.HTTPError as error:
            raise Unreachable(f"the App did not answer ({type(error).__name__})") from error
        if response.status_code in (200, 202):
            return
        if response.status_code in (404, 409):
            raise Refused(_message(response), status=response.status_code)
        raise Unreachable(f"the App answered {response.status_code}: {_message(response)}")


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200] or f"status {response.status_code}"
