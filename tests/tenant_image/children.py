"""Prepare-functions the supervisor's tests run as forked services.

As in the image, the supervisor calls each of these before it forks, and the child runs the
function it returned (``entry="tests.tenant_image.children:..."``).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable


def print_environment_and_wait() -> Callable[[], None]:
    def run() -> None:
        print(sorted(os.environ))
        time.sleep(60)

    return run


def print_pid_and_wait() -> Callable[[], None]:
    def run() -> None:
        print(os.getpid())
        time.sleep(60)

    return run


def report_where_it_was_prepared() -> Callable[[], None]:
    prepared_in = os.getpid()

    def run() -> None:
        print(f"prepared in parent: {prepared_in == os.getppid()}")
        time.sleep(60)

    return run


def fail_soon() -> Callable[[], None]:
    def run() -> None:
        time.sleep(0.3)
        sys.exit(3)

    return run


def raise_error() -> Callable[[], None]:
    def run() -> None:
        raise RuntimeError("boom in the service")

    return run


def raise_error_soon() -> Callable[[], None]:
    """Raises after its neighbours had time to start (and print their pid) even on a busy machine."""

    def run() -> None:
        time.sleep(0.3)
        raise RuntimeError("boom in the service")

    return run


def ignore_sigterm() -> Callable[[], None]:
    def run() -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready")
        time.sleep(60)

    return run


def returns_nothing_to_run() -> None:
    return None
