"""The orchestrator service's settings: its listener and token, and the engine settings it shares
with the App (tenant image, limits, instance, subnet pool: the recipe is the service's, read from
its own environment, never from a caller)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from cial_app.errors import ConfigurationError
from cial_app.settings import ORCHESTRATOR_TOKEN_MIN_BYTES, Settings

TOKEN_ENV = "CIAL_ORCHESTRATOR_TOKEN"  # noqa: S105 - the variable's name, not a token
TOKEN_MIN_BYTES = ORCHESTRATOR_TOKEN_MIN_BYTES
DEFAULT_PORT = 8090


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    token: str = field(repr=False)
    engine: Settings = field(default_factory=Settings)
    # Loopback unless told (compose says 0.0.0.0: the App reaches it over cial-net), like the App.
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceSettings:
        env = os.environ if environ is None else environ
        token = env.get(TOKEN_ENV) or ""
        if len(token.encode()) < TOKEN_MIN_BYTES:
            # Says how long it is, never what it is.
            raise ConfigurationError(
                f"{TOKEN_ENV} must be at least {TOKEN_MIN_BYTES} bytes, got {len(token.encode())}; "
                "`make local-up` generates one into .local/secrets.env"
            )
        engine = Settings.from_env(env)
        if engine.orchestrator == "remote":
            raise ConfigurationError(
                "the orchestrator service drives an engine itself: "
                "CIAL_ORCHESTRATOR must be docker (or memory)"
            )
        raw_port = env.get("CIAL_ORCHESTRATOR_PORT") or str(DEFAULT_PORT)
        if not raw_port.isdigit() or not 1 <= int(raw_port) <= 65535:
            raise ConfigurationError(f"CIAL_ORCHESTRATOR_PORT must be a TCP port, got {raw_port!r}")
        return cls(
            token=token,
            engine=engine,
            host=env.get("CIAL_ORCHESTRATOR_HOST") or "127.0.0.1",
            port=int(raw_port),
        )
