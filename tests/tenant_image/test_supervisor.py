"""The supervisor's behaviour with real child processes (small Python programs, no Docker)."""

from __future__ import annotations

import ast
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator

import pytest
from cial_core.services import Service

from tests.tenant_image.supervising import Run, start

SLEEPER = "import time; print('ready', flush=True); time.sleep(60)"


def program(name: str, code: str, env: dict[str, str] | None = None) -> Service:
    return Service(name=name, argv=(sys.executable, "-u", "-c", code), user=None, env=env or {}, cwd="/")


def function(name: str, entry: str, env: dict[str, str] | None = None) -> Service:
    return Service(name=name, entry=f"tests.tenant_image.children:{entry}", user=None, env=env or {}, cwd="/")


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


class TestOutput:
    def test_each_line_is_prefixed_with_the_service_name(self, running: list[Run]) -> None:
        run = start(
            running,
            [
                program("alpha", "print('one'); print('two'); import time; time.sleep(60)"),
                program("beta", "import sys; print('oops', file=sys.stderr); import time; time.sleep(60)"),
            ],
        )
        run.until_output("oops")
        run.until_output("two")
        run.stop()
        assert run.result() == 0
        lines = run.text.splitlines()
        assert "alpha      | one" in lines
        assert "alpha      | two" in lines
        assert "beta       | oops" in lines

    def test_a_partial_last_line_is_not_lost(self, running: list[Run]) -> None:
        run = start(running, [program("tail", "import sys; sys.stdout.write('no newline'); sys.exit(0)")])
        assert run.result() != 0
        assert "tail       | no newline" in run.text.splitlines()

    def test_extra_outputs_of_a_program_are_relayed_under_their_own_names(self, running: list[Run]) -> None:
        code = "import os, time; print('main'); os.write(3, b'from three\\n'); os.write(4, b'from four\\n')"
        code += "; time.sleep(60)"
        service = Service(
            name="multi",
            argv=(sys.executable, "-u", "-c", code),
            user=None,
            env={},
            extra_outputs=("second", "third"),
        )
        run = start(running, [service])
        run.until_output("from four")
        run.until_output("main")
        run.stop()
        assert run.result() == 0
        lines = run.text.splitlines()
        assert "multi      | main" in lines
        assert "second     | from three" in lines
        assert "third      | from four" in lines

    def test_a_program_without_extra_outputs_gets_no_descriptor_3(self, running: list[Run]) -> None:
        code = (
            "import os, time\ntry:\n    os.fstat(3); print('fd 3 open')\n"
            "except OSError:\n    print('fd 3 closed')\ntime.sleep(60)"
        )
        run = start(running, [program("plain", code)])
        run.until_output("fd 3")
        run.stop()
        run.result()
        assert "plain      | fd 3 closed" in run.text

    @pytest.mark.parametrize("kind", ["program", "function"])
    def test_a_child_gets_exactly_the_environment_of_its_service(self, running: list[Run], kind: str) -> None:
        env = {"ONLY": "1", "PATH": os.environ["PATH"]}
        code = "import os, time; print(sorted(os.environ), flush=True); time.sleep(60)"
        service = (
            program("env", code, env)
            if kind == "program"
            else function("env", "print_environment_and_wait", env)
        )
        run = start(running, [service])
        run.until_output("]")
        run.stop()
        run.result()
        listed = run.text.split("env        | ")[1].splitlines()[0]
        # The interpreter may add LC_CTYPE on its own; nothing of the parent's environment leaks.
        assert set(ast.literal_eval(listed)) - {"LC_CTYPE"} == {"ONLY", "PATH"}


class TestForkedServices:
    def test_a_function_service_is_prepared_in_the_supervisor_before_the_fork(
        self, running: list[Run]
    ) -> None:
        run = start(running, [function("shared", "report_where_it_was_prepared")])
        run.until_output("prepared in parent:")
        run.stop()
        run.result()
        assert "shared     | prepared in parent: True" in run.text


class TestChildDeath:
    @pytest.mark.parametrize(
        ("fragile", "reason"),
        [
            (program("fragile", "import sys, time; time.sleep(0.3); sys.exit(3)"), "exit code 3"),
            (function("fragile", "fail_soon"), "exit code 3"),
            # Not at once: the steady one must have printed its pid first (under a loaded CI
            # machine, an immediate raise stopped it before it did, and the test had no pid).
            (function("fragile", "raise_error_soon"), "exit code 1"),
        ],
    )
    def test_when_one_dies_the_others_are_stopped_and_the_exit_is_non_zero(
        self, running: list[Run], fragile: Service, reason: str
    ) -> None:
        started = time.monotonic()
        run = start(running, [function("steady", "print_pid_and_wait"), fragile])
        assert run.result() != 0
        assert time.monotonic() - started < 5
        assert f"fragile died ({reason})" in run.text
        steady_pid = int(run.text.split("steady     | ")[1].split()[0])
        assert gone(steady_pid)

    def test_an_exception_in_a_function_service_is_shown_with_its_traceback(self, running: list[Run]) -> None:
        run = start(running, [function("broken", "raise_error")])
        run.result()
        assert "broken     | RuntimeError: boom in the service" in run.text

    def test_a_program_that_cannot_be_executed_is_reported(self, running: list[Run]) -> None:
        run = start(
            running,
            [program("first", SLEEPER), Service(name="broken", argv=("/nonexistent/py",), user=None, env={})],
        )
        assert run.result() != 0
        assert "broken     | cannot execute /nonexistent/py" in run.text
        assert "broken died (exit code 127)" in run.text

    @pytest.mark.parametrize(
        ("broken", "reason"),
        [
            (function("broken", "returns_nothing_to_run"), "returned None, not something to run"),
            (function("broken", "no_such_function"), "cannot load tests.tenant_image.children:no_such_"),
            (Service(name="broken", argv=("/bin/true",), user="no-such-user-here", env={}), "no user"),
        ],
    )
    def test_a_service_that_cannot_be_prepared_stops_those_already_started(
        self, running: list[Run], broken: Service, reason: str
    ) -> None:
        run = start(running, [function("first", "print_pid_and_wait"), broken])
        assert run.result() == 2
        assert reason in run.text
        assert "started broken" not in run.text
        first_pid = int(run.text.split("started first (pid ")[1].split(")")[0])
        assert gone(first_pid)


class TestStop:
    @pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
    def test_stop_ends_every_child_and_returns_zero(self, running: list[Run], signum: int) -> None:
        run = start(running, [program("a", SLEEPER), function("b", "print_pid_and_wait")])
        run.until_output("a          | ready")
        run.until_output("b          | ")
        stopped = time.monotonic()
        run.stop(signum)
        assert run.result() == 0
        assert time.monotonic() - stopped < 2
        assert "stop requested" in run.text

    def test_other_signals_only_wake_the_loop(self, running: list[Run]) -> None:
        run = start(running, [program("a", SLEEPER)])
        run.until_output("ready")
        run.stop(signal.SIGCHLD)
        run.stop(signal.SIGTERM)
        assert run.result() == 0

    def test_a_child_ignoring_sigterm_is_killed_after_the_grace(self, running: list[Run]) -> None:
        grace = 0.3
        run = start(running, [function("stubborn", "ignore_sigterm")], grace=grace)
        run.until_output("ready")
        stopped = time.monotonic()
        run.stop()
        assert run.result() == 0
        assert grace <= time.monotonic() - stopped < grace + 2
        assert "stubborn ignored SIGTERM" in run.text


# Listens on the unix socket argv[1] after a moment, so that a service waiting for it must wait.
LISTENER = (
    "import socket, sys, time; s = socket.socket(socket.AF_UNIX); time.sleep(0.3); s.bind(sys.argv[1]); "
    "s.listen(); print('listening', flush=True); time.sleep(60)"
)


# Connects to the unix socket argv[1] the moment it starts: it fails if started too early.
CONNECTS = (
    "import socket, sys, time; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
    "print('connected', flush=True); time.sleep(60)"
)


@pytest.fixture
def socket_path() -> Iterator[str]:
    # Short on purpose: a unix socket's path must fit in 108 bytes, pytest's tmp_path may not.
    directory = tempfile.mkdtemp(prefix="cial-sv-", dir="/tmp")
    try:
        yield f"{directory}/core.sock"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class TestStartOrder:
    def test_a_service_starts_only_once_the_addresses_it_waits_for_accept(
        self, running: list[Run], socket_path: str
    ) -> None:
        listener = Service(
            name="core", argv=(sys.executable, "-u", "-c", LISTENER, socket_path), user=None, env={}
        )
        waiter = Service(
            name="platform",
            argv=(sys.executable, "-u", "-c", CONNECTS, socket_path),
            user=None,
            env={},
            starts_after=(socket_path,),
        )
        run = start(running, [listener, waiter])
        run.until_output("platform   | connected")
        run.stop()
        assert run.result() == 0

    def test_an_address_that_never_listens_stops_everything(
        self, running: list[Run], socket_path: str
    ) -> None:
        waiter = Service(
            name="platform",
            argv=(sys.executable, "-u", "-c", SLEEPER),
            user=None,
            env={},
            starts_after=(socket_path,),
        )
        run = start(running, [program("core", SLEEPER), waiter], listen_timeout=0.3)
        assert run.result() == 1
        assert f"cannot start platform: nothing listens on {socket_path}" in run.text
        assert "started platform" not in run.text

    def test_a_service_dying_while_others_wait_for_it_stops_everything(
        self, running: list[Run], socket_path: str
    ) -> None:
        waiter = Service(
            name="platform",
            argv=(sys.executable, "-u", "-c", SLEEPER),
            user=None,
            env={},
            starts_after=(socket_path,),
        )
        run = start(running, [program("core", "import sys; sys.exit(4)"), waiter])
        assert run.result() == 1
        assert "core died (exit code 4); stopping the others" in run.text

    def test_a_stop_while_waiting_is_a_clean_stop(self, running: list[Run], socket_path: str) -> None:
        waiter = Service(
            name="platform",
            argv=(sys.executable, "-u", "-c", SLEEPER),
            user=None,
            env={},
            starts_after=(socket_path,),
        )
        run = start(running, [program("core", SLEEPER), waiter])
        run.until_output("core       | ready")
        run.stop()
        assert run.result() == 0
