"""The admin's side of the quarantine (see `tenants.quarantine`): the list on the tenants page,
and the two forms that end a quarantined tenant's wait, restore or delete for good."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Controller, Response, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from cial_app.admin.pages import HOME, AnyRequest, form_fields, see_other
from cial_app.errors import AppError, InvalidInput
from cial_app.orchestrator import OrchestratorError
from cial_app.tenants.quarantine import Quarantined, QuarantineService
from cial_app.web.deps import Owner, Quarantine
from cial_app.web.guards import owner_only


async def quarantined(quarantine: QuarantineService) -> tuple[list[Quarantined], str | None]:
    """The list for the tenants page, or why it cannot be shown now (the page itself still is)."""
    try:
        return await quarantine.all(), None
    except OrchestratorError as error:
        return [], f"Quarantined tenants cannot be listed now: {error.reason}"


def _back(**notice: str) -> Response[Any]:
    key, value = next(iter(notice.items()))
    return see_other(f"{HOME}?{key}={quote(value)}#quarantine")


class QuarantinePages(Controller):
    path = f"{HOME}/quarantine"
    include_in_schema = False
    guards = [owner_only]

    @post("/{tenant_id:str}/{verb:str}", status_code=303)
    async def act(
        self, request: AnyRequest, tenant_id: FromPath[str], verb: FromPath[str], owner: Owner,
        quarantine: Quarantine,
    ) -> Response[Any]:  # fmt: skip
        if verb not in ("restore", "delete"):
            raise NotFoundException(f"No action named '{verb}'.")
        values = await form_fields(request, "confirm")
        try:
            entry = await quarantine.get(tenant_id)
            if verb == "restore":
                tenant = await quarantine.restore(entry.tenant_id, owner_id=owner.user.id)
                return _back(restored=tenant.slug)
            if values["confirm"].strip() not in (entry.tenant_id, entry.slug or entry.tenant_id):
                raise InvalidInput(f"Type {entry.slug or entry.tenant_id} to confirm the deletion.")
            await quarantine.delete(entry.tenant_id)
            return _back(purged=entry.slug or entry.tenant_id)
        except AppError as error:
            return _back(quarantine_error=error.message)
