"""Docker SDK and `requests` exceptions turned into the orchestrator's typed errors, at the
driver's boundary, each with a reason a user can act on."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import docker.errors
import requests.exceptions

from .errors import (
    EngineError,
    EngineUnavailable,
    ImageNotFound,
    OrchestratorError,
    PortConflict,
)

_ADDRESS = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}:\d+")


def ignore_missing(remove: Callable[[], object]) -> None:
    try:
        remove()
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        # Two removals racing (the reconciler and an admin action): the loser is told "already in
        # progress"; the result is what both wanted.
        if "already in progress" not in str(exc.explanation or ""):
            raise


def unreachable(where: str, exc: BaseException) -> str:
    return f"the Docker engine at {where} is unreachable ({_short(exc)}); is Docker running?"


def _short(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("No such file or directory", "Connection refused", "Permission denied", "timed out"):
        if marker.lower() in text.lower():
            return marker.lower()
    return text if len(text) < 200 else text[:197] + "..."


@contextmanager
def translated(doing: str, where: str) -> Iterator[None]:
    """SDK exceptions -> the orchestrator's own, each with the reason a user needs."""
    try:
        yield
    except OrchestratorError:
        raise
    except docker.errors.ImageNotFound as exc:
        raise ImageNotFound("", reason=f"could not {doing}: {exc.explanation or exc}") from exc
    except docker.errors.APIError as exc:
        explanation = str(exc.explanation or exc)
        lowered = explanation.lower()
        if "port is already allocated" in lowered or "address already in use" in lowered:
            address = _ADDRESS.search(explanation)
            port = address.group(0) if address else "the host port"
            raise PortConflict(f"could not {doing}: {port} is already in use on this host") from exc
        raise EngineError(f"could not {doing}: Docker said {explanation}") from exc
    except requests.exceptions.Timeout as exc:
        raise EngineUnavailable(
            f"could not {doing}: the Docker engine at {where} did not answer in time"
        ) from exc
    except requests.exceptions.ConnectionError as exc:
        raise EngineUnavailable(f"could not {doing}: {unreachable(where, exc)}") from exc
    except docker.errors.DockerException as exc:
        raise EngineError(f"could not {doing}: {exc}") from exc
