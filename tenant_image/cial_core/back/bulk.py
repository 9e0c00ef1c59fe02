"""Large bodies both ways, streamed, so that a proxy in front can be shown to stream them too:
`POST /digest` hashes what it is sent as it arrives; `GET /bytes/{size}` sends a known pattern."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import HTTPException
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK

MAX_BYTES = 256 * 1024 * 1024
_CHUNK = 64 * 1024
PATTERN = bytes(range(256)) * (_CHUNK // 256)  # 64 KiB; the body is this, repeated and cut to size


@post("/digest", status_code=HTTP_200_OK, request_max_body_size=MAX_BYTES)
async def digest(request: Request[Any, Any, Any]) -> dict[str, Any]:
    hashed, size = hashlib.sha256(), 0
    async for chunk in request.stream():
        hashed.update(chunk)
        size += len(chunk)
    return {"bytes": size, "sha256": hashed.hexdigest()}


@get("/bytes/{size:int}")
async def pattern(size: int) -> Stream:
    if not 0 <= size <= MAX_BYTES:
        raise HTTPException(status_code=400, detail=f"size must be 0 to {MAX_BYTES} bytes")

    async def chunks() -> AsyncIterator[bytes]:
        left = size
        while left > 0:
            piece = PATTERN[: min(left, _CHUNK)]
            left -= len(piece)
            yield piece

    return Stream(chunks(), media_type="application/octet-stream", headers={"content-length": str(size)})
