"""Prometheus metrics of the router (prometheus-client: the standard exposition format, without
writing our own), served by the control listener (router.control), which no tenant reaches."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

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
