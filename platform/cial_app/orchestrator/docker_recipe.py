"""The fixed recipe of a tenant container: what every one gets, whatever the caller asks.

Kept apart from the driver's engine calls so the whole recipe reads in one place: named volume,
no bind mounts, not privileged, no-new-privileges, every capability dropped but the supervisor's
four, a read-only root filesystem with sized tmpfs where writes belong, limits, 127.0.0.1 only.
The recipe's hash is a label on the container (`recipe_hash`): a container made from another
recipe, or from another build of the image, is replaced the next time its tenant starts.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from docker.types import LogConfig

from .base import DATA_DIR, MachineSpec
from .docker_inspect import PORT_KEY

RECIPE_LABEL = "cial.recipe"

# All that any process in a tenant may hold, and only the root supervisor does (its children
# drop everything with their uid): SETUID/SETGID to start each service as its user, KILL to stop
# them, CHOWN to hand Core's socket directory to `cial`. Without DAC_OVERRIDE and FOWNER, root in
# the container cannot read or change another user's files either (Core's code is root's own,
# readable by `cial`'s group: see tenant_image/Dockerfile).
SUPERVISOR_CAPABILITIES = ("CHOWN", "KILL", "SETGID", "SETUID")

# Nothing of the image is writable: the tenant's data is in its volume (Core's, 0700), sockets
# in /run, scratch files in /tmp, both in memory and sized, so no process can fill the host's
# disk through them (the memory they take counts against the tenant's limit). noexec on /run:
# only sockets belong there.
TMPFS = {
    "/tmp": "rw,nosuid,nodev,size=64m",  # noqa: S108 - the tenant's own /tmp, a fresh tmpfs
    "/run": "rw,nosuid,nodev,noexec,size=1m,mode=0755",
}


# The SDK's type stubs list only "always" and "on-failure"; the engine accepts this one too.
_UNLESS_STOPPED: Any = {"Name": "unless-stopped", "MaximumRetryCount": 0}


def _published(host_port: int | None) -> dict[str, Any]:
    """Port 8080 on 127.0.0.1 only; an empty host port makes the engine pick a free one."""
    return {PORT_KEY: ("127.0.0.1", host_port if host_port is not None else "")}


def container_options(
    spec: MachineSpec, name: str, labels: dict[str, str], log_config: LogConfig
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
        "cap_drop": ["ALL"],
        "cap_add": list(SUPERVISOR_CAPABILITIES),
        "privileged": False,
        "read_only": True,
        "tmpfs": dict(TMPFS),
        "log_config": log_config,
    }


def recipe_hash(image_id: str, options: dict[str, Any]) -> str:
    """What the container is made of: the image build and every option but its name, labels and
    published port (which differ between two containers of one recipe) — environment included,
    so a tenant whose key changed gets it on its next start."""
    relevant = {
        key: value
        for key, value in options.items()
        if key not in ("name", "hostname", "labels", "ports", "log_config")
    }
    text = json.dumps({"image": image_id, **relevant}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
