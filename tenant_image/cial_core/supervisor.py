"""The tenant container's supervisor: tini's only child, parent of the tenant's services.

It runs as root only so that it can start each service as its own user; it never serves anything.
Every line a service writes is re-emitted with the service's name in front (a program that runs a
second service itself, as the platform front runs the platform back, gets a second stream). If any
child dies, the others are stopped and the supervisor exits non-zero, so Docker's restart policy
brings the whole container back in a known state instead of leaving it half up. On SIGTERM/SIGINT
it stops the children (SIGTERM, a short grace, then SIGKILL) and exits 0, well inside `docker
stop`'s 10 s.

Why fork by hand rather than ``subprocess``: memory. Core's three services are Python functions;
the supervisor prepares each (imports, builds its app) right before forking it, so they share one
copy of their libraries (about half of each process). The platform is executed from its own
interpreter after the fork, as ``subprocess`` would, with its extra output pipes on fds 3, 4, ...
The loop is a plain ``selectors`` loop: it only moves lines and waits for signals, and staying
synchronous keeps the pre-fork state free of threads and event loops.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import importlib
import os
import pwd
import selectors
import shutil
import signal
import socket
import stat
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import BinaryIO, NoReturn

from cial_core.services import CORE_SOCKET_DIR, CORE_USER, Service, tenant_services

STOP_GRACE_SECONDS = 2.0
# SIGCHLD and closed pipes wake the loop at once; this is only the safety net.
POLL_SECONDS = 1.0
# While a child is known to be on its way out (its output closed), look again soon.
SHORT_POLL_SECONDS = 0.05
READ_CHUNK = 65536
HIGH_FD = 100  # where a child's output pipes wait while its descriptors are renumbered
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
# How long a service may take to listen before the ones that start after it give up.
LISTEN_TIMEOUT_SECONDS = 30.0
LISTEN_POLL_SECONDS = 0.02
EXIT_SERVICE_DIED = 1
EXIT_MISCONFIGURED = 2
EXIT_CANNOT_EXEC = 127


class StartError(Exception):
    """A service cannot be started; the message names it and says why."""


class _Log:
    """Writes whole lines to one binary stream, each behind a padded ``name |`` prefix."""

    def __init__(self, out: BinaryIO, names: Sequence[str]) -> None:
        self._out = out
        self._width = max(len(name) for name in [*names, "supervisor"])

    def line(self, name: str, data: bytes | bytearray) -> None:
        self._out.write(f"{name:<{self._width}} | ".encode() + data.rstrip(b"\n") + b"\n")
        self._out.flush()

    def say(self, message: str) -> None:
        self.line("supervisor", message.encode())


@dataclass(frozen=True, slots=True)
class _Plan:
    """A service with everything resolved that can fail before it is started."""

    service: Service
    target: Callable[[], object] | None
    uid: int | None
    gid: int | None


@dataclass(slots=True)
class _Stream:
    """One output pipe of a child, relayed line by line under ``name``."""

    name: str
    fd: int
    pending: bytearray = field(default_factory=bytearray)
    closed: bool = False


@dataclass(slots=True)
class _Child:
    service: Service
    pid: int
    streams: list[_Stream]
    returncode: int | None = None

    @property
    def output_closed(self) -> bool:
        return self.streams[0].closed

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def signal(self, signum: signal.Signals) -> None:
        try:
            # The child leads its own process group, so this reaches anything it spawned too.
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            # Not yet a group leader (it has only just been forked), or already gone.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)


def _prepare(entry: str) -> Callable[[], object]:
    """Import ``entry`` ("module:function"), call it, and return the runner it builds."""
    module_name, _, attribute = entry.partition(":")
    try:
        prepare = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise StartError(f"cannot load {entry}: {error}") from error
    runner = prepare()
    if not callable(runner):
        raise StartError(f"{entry} returned {runner!r}, not something to run")
    checked: Callable[[], object] = runner
    return checked


def _plan(service: Service) -> _Plan:
    target = _prepare(service.entry) if service.entry is not None else None
    if service.user is None:
        return _Plan(service, target, None, None)
    try:
        account = pwd.getpwnam(service.user)
    except KeyError:
        raise StartError(f"cannot start {service.name}: no user {service.user!r} here") from None
    return _Plan(service, target, account.pw_uid, account.pw_gid)


def _describe(returncode: int) -> str:
    if returncode < 0:
        return f"signal {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


def _become(plan: _Plan, outputs: Sequence[int]) -> NoReturn:
    """In the forked child: turn into the service. Never returns into the supervisor's code."""
    code = 1
    try:
        code = _run_child(plan, outputs)
    except SystemExit as exit_request:
        code = exit_request.code if isinstance(exit_request.code, int) else int(exit_request.code is not None)
    except BaseException:  # whatever it was, the child must end here
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(code)


def _run_child(plan: _Plan, outputs: Sequence[int]) -> int:
    service = plan.service
    os.setsid()
    # The main output becomes stdout and stderr; further ones (``extra_outputs``) become 3, 4, ...
    # Moved out of the way first, so that no dup2 overwrites one still to be placed.
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, HIGH_FD) for fd in outputs]
    stdin = os.open(os.devnull, os.O_RDONLY)
    os.dup2(stdin, 0)
    os.dup2(high[0], 1)
    os.dup2(high[0], 2)
    for number, fd in enumerate(high[1:], start=3):
        os.dup2(fd, number)
    # Nothing of the supervisor's leaks: not the other children's pipes, not its signal pipe.
    os.closerange(3 + len(high) - 1, os.sysconf("SC_OPEN_MAX"))
    # Fresh streams on the new descriptors, whatever the parent had made of sys.stdout.
    sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)  # noqa: SIM115
    with contextlib.suppress(ValueError):
        signal.set_wakeup_fd(-1)
    for signum in (*STOP_SIGNALS, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    if plan.target is not None:
        # What ps and top show for this process, instead of the supervisor's command line. Done
        # while still root: after the uid changes, the process's /proc entries belong to root.
        with contextlib.suppress(OSError), open("/proc/self/comm", "w") as comm:
            comm.write(service.name[:15])
    if plan.uid is not None and plan.gid is not None:
        # Supplementary groups first: once the uid is dropped, root's groups could not be.
        os.setgroups([])
        os.setgid(plan.gid)
        os.setuid(plan.uid)
    os.chdir(service.cwd)
    if plan.target is None:
        return _execute(service)
    os.environ.clear()
    os.environ.update(service.env)
    plan.target()
    return 0


def _execute(service: Service) -> int:
    """Replace the child with the service's program; return only if that failed."""
    try:
        os.execve(service.argv[0], list(service.argv), dict(service.env))  # noqa: S606 - no shell wanted
    except OSError as error:
        print(f"cannot execute {service.argv[0]}: {error.strerror}", file=sys.stderr)
    return EXIT_CANNOT_EXEC


def _spawn(plan: _Plan) -> _Child:
    if plan.target is not None:
        # Whatever the supervisor has imported is shared with the forked child; freezing it keeps
        # the child's garbage collector from touching (and so copying) those pages.
        gc.collect()
        gc.freeze()
    names = (plan.service.name, *plan.service.extra_outputs)
    pipes = [os.pipe() for _ in names]
    try:
        pid = os.fork()
    except OSError:
        for pipe in pipes:
            os.close(pipe[0])
            os.close(pipe[1])
        raise
    if pid == 0:
        _become(plan, [write_end for _, write_end in pipes])
    streams = []
    for name, (read_end, write_end) in zip(names, pipes, strict=True):
        os.close(write_end)
        os.set_blocking(read_end, False)
        streams.append(_Stream(name, read_end))
    return _Child(plan.service, pid, streams)


def _relay(stream: _Stream, selector: selectors.BaseSelector, log: _Log) -> bool:
    """Pass on what was written to ``stream``; False once nothing more is to be read right now."""
    try:
        data = os.read(stream.fd, READ_CHUNK)
    except BlockingIOError:
        return False
    if not data:
        _close(stream, selector, log)
        return False
    stream.pending += data
    *lines, rest = stream.pending.split(b"\n")
    for line in lines:
        log.line(stream.name, line)
    stream.pending = bytearray(rest)
    if len(stream.pending) >= READ_CHUNK:
        # A line longer than a chunk is passed on in pieces rather than held without bound.
        log.line(stream.name, bytes(stream.pending))
        stream.pending.clear()
    return True


def _close(stream: _Stream, selector: selectors.BaseSelector, log: _Log) -> None:
    if stream.pending:
        log.line(stream.name, bytes(stream.pending))
        stream.pending.clear()
    selector.unregister(stream.fd)
    os.close(stream.fd)
    stream.closed = True


def _stop_requested(stop_fd: int) -> bool:
    """The stop pipe carries signal numbers (``signal.set_wakeup_fd``); EOF also means stop."""
    try:
        data = os.read(stop_fd, 512)
    except BlockingIOError:
        return False
    return not data or any(signum in STOP_SIGNALS for signum in data)


def _stop_all(children: Sequence[_Child], selector: selectors.BaseSelector, log: _Log, grace: float) -> None:
    running = [child for child in children if child.poll() is None]
    for child in running:
        child.signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while running and time.monotonic() < deadline:
        for key, _ in selector.select(min(SHORT_POLL_SECONDS, max(0.0, deadline - time.monotonic()))):
            if isinstance(key.data, _Stream):
                _relay(key.data, selector, log)
        running = [child for child in running if child.poll() is None]
    for child in running:
        log.say(f"{child.service.name} ignored SIGTERM for {grace:.1f}s; killing it")
        child.signal(signal.SIGKILL)
    for child in children:
        child.wait()
        for stream in child.streams:
            # Whatever it wrote before it ended; a descendant keeping the pipe open is not waited for.
            while not stream.closed and _relay(stream, selector, log):
                pass
            if not stream.closed:
                _close(stream, selector, log)


def _accepts(address: str) -> bool:
    """Whether something listens at ``address`` ("/path.sock" or "host:port") right now."""
    try:
        if address.startswith("/"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.settimeout(1.0)
                probe.connect(address)
        else:
            host, _, port = address.rpartition(":")
            socket.create_connection((host, int(port)), timeout=1.0).close()
    except OSError:
        return False
    return True


def _wait_until_listening(
    service: Service,
    children: Sequence[_Child],
    selector: selectors.BaseSelector,
    log: _Log,
    stop_fd: int,
    timeout: float,
) -> int | None:
    """Until every address ``service`` starts after accepts connections, relaying output meanwhile.

    None when it may start; otherwise the exit code the supervisor should stop with (0: a stop was
    requested; a service died or never listened: EXIT_SERVICE_DIED).
    """
    waiting = [address for address in service.starts_after if not _accepts(address)]
    deadline = time.monotonic() + timeout
    while waiting:
        for key, _ in selector.select(LISTEN_POLL_SECONDS):
            if isinstance(key.data, _Stream):
                _relay(key.data, selector, log)
            elif _stop_requested(stop_fd):
                log.say("stop requested; stopping services")
                return 0
        for child in children:
            returncode = child.poll()
            if returncode is not None:
                log.say(f"{child.service.name} died ({_describe(returncode)}); stopping the others")
                return EXIT_SERVICE_DIED
        if time.monotonic() > deadline:
            log.say(
                f"cannot start {service.name}: nothing listens on {', '.join(waiting)} after "
                f"{timeout:.0f}s; stopping the others"
            )
            return EXIT_SERVICE_DIED
        waiting = [address for address in waiting if not _accepts(address)]
    return None


def supervise(
    services: Sequence[Service],
    *,
    out: BinaryIO,
    stop_fd: int,
    grace: float = STOP_GRACE_SECONDS,
    listen_timeout: float = LISTEN_TIMEOUT_SECONDS,
) -> int:
    """Run ``services`` until one dies (returns 1) or ``stop_fd`` asks to stop (returns 0).

    ``stop_fd`` is the read end of a pipe that receives signal numbers as bytes (what
    ``signal.set_wakeup_fd`` writes): SIGTERM or SIGINT, or end of file, means stop; any other
    byte (SIGCHLD) only wakes the loop up.
    """
    began = time.monotonic()
    log = _Log(out, [name for service in services for name in (service.name, *service.extra_outputs)])
    children: list[_Child] = []
    with selectors.DefaultSelector() as selector:
        selector.register(stop_fd, selectors.EVENT_READ, None)
        # One after the other, each prepared right before its fork: the first services are
        # already starting while the supervisor still imports what the later ones need.
        for service in services:
            waited = _wait_until_listening(service, children, selector, log, stop_fd, listen_timeout)
            if waited is not None:
                _stop_all(children, selector, log, grace)
                log.say(f"all services stopped; exiting with {waited}")
                return waited
            try:
                child = _spawn(_plan(service))
            except StartError as error:
                log.say(f"{error}; stopping the others")
                _stop_all(children, selector, log, grace)
                return EXIT_MISCONFIGURED
            except OSError as error:
                log.say(f"cannot start {service.name}: {error}; stopping the others")
                _stop_all(children, selector, log, grace)
                return EXIT_SERVICE_DIED
            children.append(child)
            for stream in child.streams:
                selector.register(stream.fd, selectors.EVENT_READ, stream)
            # The time since the supervisor began, per service: the start-up timeline in the log.
            log.say(
                f"started {service.name} (pid {child.pid}) as {service.user or 'the supervisor user'}"
                f" at +{(time.monotonic() - began) * 1000:.0f} ms"
            )

        code: int | None = None
        while code is None:
            closing = any(child.output_closed and child.returncode is None for child in children)
            for key, _ in selector.select(SHORT_POLL_SECONDS if closing else POLL_SECONDS):
                if isinstance(key.data, _Stream):
                    _relay(key.data, selector, log)
                elif _stop_requested(stop_fd):
                    log.say("stop requested; stopping services")
                    code = 0
            if code is None:
                for child in children:
                    returncode = child.poll()
                    if returncode is not None:
                        log.say(f"{child.service.name} died ({_describe(returncode)}); stopping the others")
                        code = EXIT_SERVICE_DIED
        selector.unregister(stop_fd)
        _stop_all(children, selector, log, grace)
    log.say(f"all services stopped; exiting with {code}")
    return code


def _wake(signum: int, frame: FrameType | None) -> None:
    """Nothing to do here: ``signal.set_wakeup_fd`` has already written the number to the loop."""


def prepare_socket_directory(path: str = CORE_SOCKET_DIR, user: str = CORE_USER) -> None:
    """A fresh, empty directory for Core's sockets, owned by ``user`` with mode 0700.

    Made anew at every start (a restarted container keeps its files): nothing left in it from
    before can be mistaken for a live socket, and its mode is this code's, whatever was there.
    Only root can write to its parent (/run), so no one else can have put a link there.
    Root here holds CHOWN but neither DAC_OVERRIDE nor FOWNER (the tenant recipe drops them), so
    it may not look into or change a directory of `cial`'s: it takes an old one back first, and
    sets the mode of the new one while it still owns it.
    """
    account = pwd.getpwnam(user)
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISDIR(os.lstat(path).st_mode):
            os.chown(path, 0, 0, follow_symlinks=False)
            os.chmod(path, 0o700)
            shutil.rmtree(path)
        else:
            os.unlink(path)
    os.mkdir(path, 0o700)
    os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask
    os.chown(path, account.pw_uid, account.pw_gid)


def main() -> int:
    out = sys.stdout.buffer
    for variable, what in (("TENANT_ID", "tenant id"), ("TENANT_SLUG", "tenant slug")):
        if not os.environ.get(variable):
            _Log(out, []).say(f"{variable} is not set; start the container with -e {variable}=<{what}>")
            return EXIT_MISCONFIGURED
    try:
        prepare_socket_directory()
    except (OSError, KeyError) as error:
        _Log(out, []).say(f"cannot prepare {CORE_SOCKET_DIR} for Core's sockets: {error}")
        return EXIT_MISCONFIGURED
    stop_read, stop_write = os.pipe()
    os.set_blocking(stop_read, False)
    os.set_blocking(stop_write, False)
    signal.set_wakeup_fd(stop_write)
    for signum in (*STOP_SIGNALS, signal.SIGCHLD):
        signal.signal(signum, _wake)
    return supervise(tenant_services(os.environ), out=out, stop_fd=stop_read)


if __name__ == "__main__":
    raise SystemExit(main())
