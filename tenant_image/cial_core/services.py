"""The five services of a tenant container: who runs them, with which interpreter and environment.

Pure data and pure functions, no I/O, so what each process is given can be checked in a test.
The security-relevant part is the environment: Core's processes may see the container's
secrets (``CIAL_*``), ``agent``'s processes get an allow-list and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

CORE_HOME = "/opt/cial-core"
PLATFORM_HOME = "/opt/cial-platform"
PLATFORM_PYTHON = f"{PLATFORM_HOME}/venv/bin/python"

CORE_USER = "cial"
AGENT_USER = "agent"

EDGE_PORT = 8080
PLATFORM_FRONT_PORT = 3000
PLATFORM_BACK_PORT = 3001
# Core's services listen on unix sockets in a directory only `cial` may enter (the supervisor
# makes it, 0700): `agent` can connect to any loopback port, but not to these. The edge dials them.
CORE_SOCKET_DIR = "/run/cial-core"
CORE_BACK_SOCKET = f"{CORE_SOCKET_DIR}/back.sock"
CORE_FRONT_SOCKET = f"{CORE_SOCKET_DIR}/front.sock"

# The only variables of the container's environment that reach `agent`'s processes. Anything
# else an operator passes in (in particular every CIAL_* secret) stays on Core's side.
AGENT_PASSTHROUGH = frozenset({"PATH", "LANG", "LC_ALL", "TZ", "TENANT_ID", "TENANT_SLUG"})
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# -I: ignore PYTHON* variables and the working directory, so nothing in the environment can
# change what code a service imports; -B: the image ships compiled bytecode, never write more;
# -u: unbuffered, so the supervisor sees (and prefixes) each line when it is written.
PYTHON_FLAGS = ("-I", "-B", "-u")


@dataclass(frozen=True, slots=True)
class Service:
    """One child process of the supervisor. ``user`` None means "as the supervisor's own user".

    A service either runs a program (``argv``: the supervisor forks and executes it) or is Core's
    own code (``entry``, "module:function"): the supervisor calls that function before it forks,
    to import and build everything the service needs, and the child runs the function it returned.
    So Core's children share the memory of all that was loaded beforehand.
    """

    name: str
    user: str | None
    env: Mapping[str, str]
    argv: tuple[str, ...] = ()
    entry: str | None = None
    cwd: str = "/"
    # Names of further services the process runs itself, each with its own output stream on
    # file descriptors 3, 4, ... (the platform front forks the platform back).
    extra_outputs: tuple[str, ...] = ()
    # Addresses ("/path/of.sock" or "host:port") that must accept connections before this service
    # is started: the platform waits until the edge holds its port, so agent code cannot bind it
    # first and receive what was meant for Core.
    starts_after: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if bool(self.argv) == (self.entry is not None):
            raise ValueError(f"service {self.name!r} needs exactly one of argv and entry")


def _identity(user: str) -> dict[str, str]:
    return {"HOME": f"/home/{user}", "USER": user, "LOGNAME": user}


def core_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Core runs trusted code and is meant to hold the tenant's secrets: it gets the whole environment."""
    return {**environ, "PATH": environ.get("PATH", DEFAULT_PATH), **_identity(CORE_USER)}


def agent_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Only the allow-list, plus the identity of ``agent`` and the ports its services listen on
    (written here only: the edge routes to the same constants)."""
    kept = {key: value for key, value in environ.items() if key in AGENT_PASSTHROUGH}
    ports = {"PLATFORM_FRONT_PORT": str(PLATFORM_FRONT_PORT), "PLATFORM_BACK_PORT": str(PLATFORM_BACK_PORT)}
    return {"PATH": DEFAULT_PATH, **kept, **ports, **_identity(AGENT_USER)}


def tenant_services(environ: Mapping[str, str]) -> list[Service]:
    """The tenant's processes, in start order."""

    # Core's services are functions forked from the supervisor, which runs Core's own interpreter:
    # they share one copy of uvicorn (and back and front one of Litestar) in memory. The platform
    # runs its own interpreter from its own virtualenv, so it is executed (and shares nothing).
    def core(name: str, entry: str) -> Service:
        return Service(name=name, entry=entry, user=CORE_USER, env=core_environment(environ), cwd=CORE_HOME)

    # The platform is one program from its own interpreter: platform front, which forks platform
    # back (they share their imports that way; see cial_platform.launch). The back's output has
    # a stream of its own. It starts second, once the edge listens: `agent` may bind any free
    # port, so it must not get the chance to take the edge's. Core's sockets need no such wait:
    # they are in a directory `agent` can neither enter nor write to. Not waiting for them lets
    # the platform's interpreter start on one core while the supervisor prepares Core's
    # services on the other (the slowest part of a tenant's start is these two, in series).
    platform = Service(
        name="platform-front",
        argv=(PLATFORM_PYTHON, *PYTHON_FLAGS, "-m", "cial_platform"),
        user=AGENT_USER,
        env=agent_environment(environ),
        cwd=PLATFORM_HOME,
        extra_outputs=("platform-back",),
        starts_after=(f"127.0.0.1:{EDGE_PORT}",),
    )
    return [
        core("edge", "cial_core.edge:prepare"),
        platform,
        core("core-back", "cial_core.back.app:prepare"),
        core("core-front", "cial_core.front.app:prepare"),
    ]
