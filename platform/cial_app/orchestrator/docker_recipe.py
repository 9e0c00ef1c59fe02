"""The fixed recipe of a tenant container: what every one gets, whatever the caller asks.

Kept apart from the driver's engine calls so the whole recipe reads in one place: named volume,
no bind mounts, not privileged, no-new-privileges, dropped capabilities, limits, 127.0.0.1 only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from docker.types import LogConfig

from .base import DATA_DIR, MachineSpec
from .docker_inspect import PORT_KEY

# Dropped on top of Docker's default set: nothing in a tenant needs raw sockets, device nodes,
# chroot, low ports (the edge listens on 8080) or to grant file capabilities. The supervisor keeps
# SETUID/SETGID/KILL/CHOWN, which it needs to run each service as its own user.
DEFAULT_CAP_DROP = ("NET_RAW", "MKNOD", "SYS_CHROOT", "NET_BIND_SERVICE", "SETFCAP", "AUDIT_WRITE")


# The SDK's type stubs list only "always" and "on-failure"; the engine accepts this one too.
_UNLESS_STOPPED: Any = {"Name": "unless-stopped", "MaximumRetryCount": 0}


def _published(host_port: int | None) -> dict[str, Any]:
    """Port 8080 on 127.0.0.1 only; an empty host port makes the engine pick a free one."""
    return {PORT_KEY: ("127.0.0.1", host_port if host_port is not None else "")}


def container_options(
    spec: MachineSpec, name: str, labels: dict[str, str], cap_drop: Sequence[str], log_config: LogConfig
) -> dict[str, Any]:
    """The keyword arguments of `containers.create` for `spec` (the image aside), named `name`."""
    return {
        "name": name,
        "hostname": name,
        "environment": spec.all_env,
        "labels": labels,
        "volumes": {spec.volume_name: {"bind": DATA_DIR, "mode": "rw"}},
        "ports": _published(spec.published_port),
        "network": spec.network,
        # unless-stopped rather than on-failure: a crashed tenant comes back by
        # itself (the supervisor exits non-zero when a service dies), and so does
        # every running tenant after a Docker or host restart, even before the App is
        # up; a stop the App asked for is remembered across those restarts. A crash
        # loop shows as RESTARTING with a growing restart count, not as silence.
        "restart_policy": _UNLESS_STOPPED,
        "mem_limit": spec.memory_bytes,
        "memswap_limit": spec.memory_bytes,  # no swap on top: the limit is the limit
        "nano_cpus": int(spec.cpus * 1e9),
        "pids_limit": spec.pids_limit,
        "security_opt": ["no-new-privileges:true"],
        "cap_drop": list(cap_drop),
        "privileged": False,
        "log_config": log_config,
    }
