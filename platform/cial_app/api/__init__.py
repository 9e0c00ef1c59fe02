"""The web layer: the Litestar application, its wiring, and the cross-cutting HTTP concerns."""
