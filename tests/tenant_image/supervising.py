"""Running the real supervisor in a thread, for tests: its output, and a way to ask it to stop."""

from __future__ import annotations

import io
import os
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from cial_core.services import Service
from cial_core.supervisor import supervise

from testkit.polling import eventually


@dataclass
class Run:
    """``supervise`` running in a thread, with its output and a way to ask it to stop."""

    services: Sequence[Service]
    grace: float = 2.0
    listen_timeout: float = 10.0
    out: io.BytesIO = field(default_factory=io.BytesIO)
    code: int | None = None

    def __post_init__(self) -> None:
        self._stop_read, self._stop_write = os.pipe()
        os.set_blocking(self._stop_read, False)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.code = supervise(
            self.services,
            out=self.out,
            stop_fd=self._stop_read,
            grace=self.grace,
            listen_timeout=self.listen_timeout,
        )

    @property
    def text(self) -> str:
        return self.out.getvalue().decode()

    def until_output(self, text: str, within: float = 10.0) -> None:
        eventually(lambda: text in self.text, timeout=within, interval=0.02, what=f"{text!r} in the output")

    def stop(self, signum: int = signal.SIGTERM) -> None:
        os.write(self._stop_write, bytes([signum]))

    def result(self, within: float = 10.0) -> int:
        self._thread.join(within)
        assert self.code is not None, f"supervise did not return within {within}s:\n{self.text}"
        return self.code

    def close(self) -> None:
        if self._thread.is_alive():
            self.stop()
            self._thread.join(10)
        os.close(self._stop_read)
        os.close(self._stop_write)


def start(
    runs: list[Run], services: Sequence[Service], grace: float = 2.0, listen_timeout: float = 10.0
) -> Run:
    run = Run(services, grace, listen_timeout)
    runs.append(run)
    return run
