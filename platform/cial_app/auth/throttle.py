"""Counting failed sign-ins, to answer 429 once there are too many.

In memory and per process: the App runs as one process, and a restart forgetting the count
is an acceptable loss for local mode (the window is short anyway).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class FailureWindow:
    """A sliding window of failure times per key (an e-mail address, a client address)."""

    limit: int
    window_seconds: float
    clock: Callable[[], float] = time.monotonic
    # Past this many keys, forget every key with no recent failure: sprays of made-up
    # e-mail addresses must not grow the table without bound.
    max_keys: int = 10_000
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def retry_after(self, key: str) -> int | None:
        """Seconds until `key` may try again, or None when it may try now."""
        failures = self._recent(key)
        if len(failures) < self.limit:
            return None
        # Allowed again once the oldest failure that keeps the count at the limit leaves the window.
        blocking = failures[len(failures) - self.limit]
        return max(1, math.ceil(blocking + self.window_seconds - self.clock()))

    def record_failure(self, key: str) -> None:
        self._recent(key)
        if key not in self._failures and len(self._failures) >= self.max_keys:
            for stale in list(self._failures):
                self._recent(stale)
        self._failures.setdefault(key, deque(maxlen=self.limit)).append(self.clock())

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: str) -> deque[float]:
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        horizon = self.clock() - self.window_seconds
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures


@dataclass(slots=True)
class SignInThrottle:
    per_email: FailureWindow
    per_client: FailureWindow

    def retry_after(self, email: str, client: str) -> int | None:
        waits = [w for w in (self.per_email.retry_after(email), self.per_client.retry_after(client)) if w]
        return max(waits) if waits else None

    def record_failure(self, email: str, client: str) -> None:
        self.per_email.record_failure(email)
        self.per_client.record_failure(client)

    def record_success(self, email: str) -> None:
        # The client's count stays: one good account must not reset a spray across many others.
        self.per_email.clear(email)
