"""When the reconciler may try a failing tenant again: sooner at first, then less and less often,
so a tenant whose image is missing is not re-tried (and logged) every few seconds forever."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable


class Backoff:
    def __init__(self, first: float, cap: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._first = first
        self._cap = max(cap, first)
        self._clock = clock
        self._failures: dict[uuid.UUID, tuple[int, float]] = {}  # tenant -> (failures, next try at)

    def due(self, tenant_id: uuid.UUID) -> bool:
        entry = self._failures.get(tenant_id)
        return entry is None or self._clock() >= entry[1]

    def failed(self, tenant_id: uuid.UUID) -> float:
        """Count one more failure; return the seconds until the next try."""
        count = self._failures.get(tenant_id, (0, 0.0))[0] + 1
        delay = min(self._first * 2.0 ** (count - 1), self._cap)
        self._failures[tenant_id] = (count, self._clock() + delay)
        return delay

    def clear(self, tenant_id: uuid.UUID) -> None:
        self._failures.pop(tenant_id, None)
