"""The tenant's platform as the supervisor runs it: platform front, and platform back forked from it.

Both are Litestar apps. The back is forked once the front has imported and built everything, so
the two share those pages and the start-up pays for one import instead of two. That matters on a
256 MB machine, and the first page (/) is the front's, so the CPU the back no longer needs at
start goes there.

Each keeps its own identity: the back writes to file descriptor 3 when the supervisor passes one
(its own output stream, named "platform-back"), and names itself in /proc. If the back dies, the
front stops and exits non-zero, so the supervisor takes the container down as for any service.
A stop (SIGTERM to the process group) reaches both.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import sys
import threading
import traceback
from dataclasses import dataclass
from types import FrameType
from typing import NoReturn

import uvicorn

from cial_platform.back import app as back
from cial_platform.front import app as front
from cial_platform.serving import configure_logging, port, server

BACK_OUTPUT_FD = 3
BACK_STOP_SECONDS = 3.0

_log = logging.getLogger("cial_platform")


def _name_process(name: str) -> None:
    with contextlib.suppress(OSError), open("/proc/self/comm", "w") as comm:
        comm.write(name[:15])


def _describe(returncode: int) -> str:
    if returncode < 0:
        return f"signal {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


def _output_given() -> bool:
    try:
        os.fstat(BACK_OUTPUT_FD)
    except OSError:
        return False
    return True


def _run_back(back_server: uvicorn.Server, own_output: bool) -> NoReturn:
    code = 1
    try:
        if own_output:
            # sys.stdout, sys.stderr and the log handler keep writing to 1 and 2: now the back's.
            os.dup2(BACK_OUTPUT_FD, 1)
            os.dup2(BACK_OUTPUT_FD, 2)
            os.close(BACK_OUTPUT_FD)
        _name_process("platform-back")
        back_server.run()
        code = 0
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(code)


@dataclass
class _BackWatch:
    """Waits for the back in a thread (plain waitpid works on every kernel) and stops the front
    if the back ends while the front is not stopping anyway."""

    back_pid: int
    front: uvicorn.Server
    died: str | None = None

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._wait, name="platform-back-watch", daemon=True)
        self.thread.start()

    def _wait(self) -> None:
        _, status = os.waitpid(self.back_pid, 0)
        if not self.front.should_exit:  # otherwise it got the same stop as the front
            self.died = _describe(os.waitstatus_to_exitcode(status))
            _log.error("platform-back died (%s); stopping platform-front too", self.died)
            self.front.should_exit = True  # uvicorn's main loop looks at this several times a second


def main() -> int:
    configure_logging()
    front_server = server(front.create_app(), port=port(front.PORT_VARIABLE))
    back_server = server(back.create_app(), port=port(back.PORT_VARIABLE))
    own_output = _output_given()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # nothing buffered may be written twice, once by each process
    gc.collect()
    gc.freeze()  # keeps the back's garbage collector off the pages it shares with the front
    back_pid = os.fork()
    if back_pid == 0:
        _run_back(back_server, own_output)
    if own_output:
        os.close(BACK_OUTPUT_FD)
    _name_process("platform-front")

    def stop(signum: int, frame: FrameType | None) -> None:
        # Before uvicorn installs its own handlers (and after it restores this one), a stop must
        # still stop the front, and must not kill it before it has waited for the back.
        front_server.should_exit = True

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    watch = _BackWatch(back_pid, front_server)
    front_server.run()
    # The back got the same SIGTERM (same process group); it is done within its own grace.
    watch.thread.join(BACK_STOP_SECONDS)
    return 1 if watch.died else 0


if __name__ == "__main__":
    raise SystemExit(main())
