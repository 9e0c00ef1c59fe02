"""Connecting to the Docker engine: where it is, and a typed error when it does not answer."""

from __future__ import annotations

import os

import docker
import docker.errors

from .docker_errors import unreachable
from .errors import EngineUnavailable

DEFAULT_SOCKET = "unix:///var/run/docker.sock"


def engine_address(base_url: str | None) -> str:
    """Where the engine is, as a user would name it in an error message."""
    return base_url or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def connect(base_url: str | None, timeout: float) -> docker.DockerClient:
    """A client of the engine at ``base_url``, or of DOCKER_HOST and its TLS settings as the
    docker CLI reads them. The SDK asks the engine for its API version here: EngineUnavailable
    when it does not answer."""
    try:
        if base_url is None:
            return docker.DockerClient.from_env(timeout=int(timeout))
        return docker.DockerClient(base_url=base_url, timeout=int(timeout))
    except docker.errors.DockerException as exc:
        raise EngineUnavailable(unreachable(engine_address(base_url), exc)) from exc
