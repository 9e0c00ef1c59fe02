"""Prometheus metrics of the router (prometheus-client: the standard exposition format, without
writing our own), served by the control listener (router.control), which no tenant reaches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from cial_app.router.idle import IdleKeeper
    from cial_app.router.waking import Waker

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class RouterMetrics:
    """Also the engine's Observer: it is told of each request and WebSocket as it passes."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "cial_router_requests",
            "Requests by tenant and status",
            ["tenant", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "cial_router_request_seconds",
            "Time from accept to the end of the response, by tenant",
            ["tenant"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "cial_router_requests_in_flight", "Requests being served", registry=self.registry
        )
        self.websockets = Gauge(
            "cial_router_open_websockets", "Open WebSockets by tenant", ["tenant"], registry=self.registry
        )
        self.route_reloads = Counter(
            "cial_router_route_reloads", "Full reloads of the route table", registry=self.registry
        )
        self.route_changes = Counter(
            "cial_router_route_changes", "Route changes heard as notifications", registry=self.registry
        )
        self.routes = Gauge("cial_router_routes", "Tenants in the route table", registry=self.registry)

    def watch_idle(self, waker: Waker, keeper: IdleKeeper) -> None:
        """Expose the idle keeper's and the waker's counts (read when scraped)."""
        self.registry.register(_IdleCollector(waker, keeper))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    # ---- the engine's Observer
    def request_started(self, upstream: str, method: str) -> None:
        self.in_flight.inc()

    def request_finished(self, upstream: str, method: str, status: int, seconds: float) -> None:
        self.in_flight.dec()
        self.requests.labels(upstream, str(status)).inc()
        self.latency.labels(upstream).observe(seconds)

    def websocket_opened(self, upstream: str) -> None:
        self.websockets.labels(upstream).inc()

    def websocket_closed(self, upstream: str, seconds: float) -> None:
        self.websockets.labels(upstream).dec()


class _IdleCollector:
    """Reads the waker's and the keeper's own counters at scrape time: they count on the hot
    path with plain integers, and nothing here runs per request."""

    def __init__(self, waker: Waker, keeper: IdleKeeper) -> None:
        self._waker, self._keeper = waker, keeper

    def collect(self) -> Iterator[Metric]:
        wakes = CounterMetricFamily(
            "cial_router_wakes", "Wakes of idle tenants by how they ended", labels=["outcome"]
        )
        for outcome in ("ready", "failed", "timed_out", "refused"):
            wakes.add_metric([outcome], self._waker.outcomes[outcome])
        yield wakes
        yield CounterMetricFamily(
            "cial_router_idle_stops",
            "Tenants the App was asked to stop for being idle",
            value=self._keeper.stopped,
        )
        yield GaugeMetricFamily(
            "cial_router_requests_held", "Requests held while their tenant wakes", value=self._waker.held
        )
