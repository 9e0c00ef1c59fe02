"""The failed sign-in window, on a clock the test moves."""

from __future__ import annotations

from cial_app.auth.throttle import FailureWindow, SignInThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestFailureWindow:
    def test_under_the_limit_there_is_no_wait(self) -> None:
        window = FailureWindow(limit=3, window_seconds=60, clock=Clock())
        window.record_failure("a")
        window.record_failure("a")
        assert window.retry_after("a") is None

    def test_at_the_limit_the_wait_runs_until_the_oldest_failure_leaves_the_window(self) -> None:
        clock = Clock()
        window = FailureWindow(limit=3, window_seconds=60, clock=clock)
        for step in (0, 10, 20):
            clock.now = 1000 + step
            window.record_failure("a")
        assert window.retry_after("a") == 40
        clock.now = 1059.5
        assert window.retry_after("a") == 1
        clock.now = 1060
        assert window.retry_after("a") is None

    def test_keys_are_counted_apart_and_cleared_alone(self) -> None:
        window = FailureWindow(limit=1, window_seconds=60, clock=Clock())
        window.record_failure("a")
        assert window.retry_after("b") is None
        window.record_failure("b")
        window.clear("a")
        assert window.retry_after("a") is None
        assert window.retry_after("b") is not None

    def test_old_keys_are_forgotten_so_the_table_stays_bounded(self) -> None:
        clock = Clock()
        window = FailureWindow(limit=5, window_seconds=60, clock=clock, max_keys=10)
        for i in range(10):
            window.record_failure(f"old{i}")
        clock.now += 61
        window.record_failure("new")
        assert len(window._failures) == 1


class TestSignInThrottle:
    def test_the_longer_of_the_two_waits_applies(self) -> None:
        clock = Clock()
        throttle = SignInThrottle(
            per_email=FailureWindow(limit=2, window_seconds=60, clock=clock),
            per_client=FailureWindow(limit=3, window_seconds=300, clock=clock),
        )
        throttle.record_failure("x@example.com", "10.0.0.1")
        throttle.record_failure("x@example.com", "10.0.0.1")
        assert throttle.retry_after("x@example.com", "10.0.0.2") == 60
        throttle.record_failure("y@example.com", "10.0.0.1")
        assert throttle.retry_after("z@example.com", "10.0.0.1") == 300
        assert throttle.retry_after("z@example.com", "10.0.0.9") is None
