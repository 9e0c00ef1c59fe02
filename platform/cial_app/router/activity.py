"""What traffic each tenant has through the router, counted by the router itself: the only place
that sees every request, WebSocket and stream of a tenant (its own code could report anything).

A tenant is busy while a request of it is held (waiting for it to wake: router.waking counts
those), in flight (from the resolve to the end of the response, a streamed one included), or a
WebSocket of it is open (its session is one request that lasts).
It is idle from the moment the last of those ended. Nothing here stops anything: the idle
keeper (router.idle) reads it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from cial_proxy import Observer

Clock = Callable[[], float]  # monotonic seconds
REFUSED = "-"  # the engine's upstream name for a request it refused before any upstream


class Activity:
    """Per tenant (the upstream's name is its slug): what is open now, and when it last ended.

    Also an engine Observer, so the proxy tells it of every request and WebSocket as they pass.
    Each call is a few dictionary operations, on the event loop."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._open: Counter[str] = Counter()
        self._last: dict[str, float] = {}
        # Bumped on every start and end: the keeper compares it across its drain to see whether
        # anything happened meanwhile.
        self._events: Counter[str] = Counter()

    # ---------------------------------------------------------------------------- the counters

    def begin(self, slug: str) -> None:
        """Something of the tenant's started (a request arrived, a WebSocket opened)."""
        self._open[slug] += 1
        self._events[slug] += 1
        self._last[slug] = self._clock()

    def end(self, slug: str) -> None:
        self._open[slug] -= 1
        if self._open[slug] <= 0:
            del self._open[slug]
        self._events[slug] += 1
        self._last[slug] = self._clock()

    def busy(self, slug: str) -> bool:
        return self._open[slug] > 0

    def idle_for(self, slug: str) -> float:
        """Seconds since the tenant's traffic last ended; 0 while it has some. A tenant never seen
        counts from now: a router that restarts gives every tenant a whole idle time again, so
        the restart alone stops none."""
        if self.busy(slug):
            return 0.0
        now = self._clock()
        return now - self._last.setdefault(slug, now)

    def mark(self, slug: str) -> int:
        return self._events[slug]

    def forget(self, slug: str) -> None:
        """A deleted tenant: drop its entries (a tenant with nothing open only)."""
        if not self.busy(slug):
            self._last.pop(slug, None)
            self._events.pop(slug, None)

    def known(self) -> list[str]:
        return list(self._last)

    # ------------------------------------------------------------------- the engine's Observer
    # The engine calls request_started right after the resolver returns (nothing in between can
    # let the keeper run) and request_finished at the end of the response, or of the WebSocket
    # session, which is one long request. A refused request ("-") was never started.

    def request_started(self, upstream: str, method: str) -> None:
        self.begin(upstream)

    def request_finished(self, upstream: str, method: str, status: int, seconds: float) -> None:
        if upstream != REFUSED:
            self.end(upstream)

    def websocket_opened(self, upstream: str) -> None:
        """Counted already: the session is the request that started it."""

    def websocket_closed(self, upstream: str, seconds: float) -> None:
        """Counted already: the request ends when the session does."""


class Observers:
    """Several engine Observers as one (the metrics and the activity)."""

    def __init__(self, *observers: Observer) -> None:
        self._observers = observers

    def request_started(self, upstream: str, method: str) -> None:
        for observer in self._observers:
            observer.request_started(upstream, method)

    def request_finished(self, upstream: str, method: str, status: int, seconds: float) -> None:
        for observer in self._observers:
            observer.request_finished(upstream, method, status, seconds)

    def websocket_opened(self, upstream: str) -> None:
        for observer in self._observers:
            observer.websocket_opened(upstream)

    def websocket_closed(self, upstream: str, seconds: float) -> None:
        for observer in self._observers:
            observer.websocket_closed(upstream, seconds)
