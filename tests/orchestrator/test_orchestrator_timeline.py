"""The one-line timeline of a slow engine operation (the Docker driver logs one per create)."""

from __future__ import annotations

from cial_app.orchestrator.timeline import Timeline


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_each_step_is_the_time_since_the_previous_mark() -> None:
    clock = Clock()
    timeline = Timeline(clock)
    clock.now += 0.102
    timeline.mark("network")
    clock.now += 0.640
    timeline.mark("start")
    timeline.mark("router")  # done on the side while the container started: it added nothing
    assert str(timeline) == "742 ms (network 102, start 640, router 0)"


def test_no_step_is_just_the_total() -> None:
    assert str(Timeline(Clock())) == "0 ms"
