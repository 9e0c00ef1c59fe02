"""`GET /healthz`: the App answers and its database does. Compose and `make local-up` wait on it."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from piccolo.apps.migrations.tables import Migration


@get("/healthz", include_in_schema=False, cache=False)
async def healthz() -> Response[dict[str, Any]]:
    try:
        await Migration.count()
    except Exception as error:
        return Response(
            {"status": "unavailable", "reason": f"database: {type(error).__name__}"}, status_code=503
        )
    return Response({"status": "ok"})
