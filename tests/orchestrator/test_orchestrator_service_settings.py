"""Settings of the `remote` driver (the App's side) and of the orchestrator service."""

from __future__ import annotations

import pytest
from cial_app.errors import ConfigurationError
from cial_app.orchestrator_service import ServiceSettings
from cial_app.provisioning.wiring import build_orchestrator
from cial_app.settings import Settings

TOKEN = "t" * 64


class TestTheAppsRemoteDriver:
    def test_remote_needs_the_services_url_and_a_long_token(self) -> None:
        with pytest.raises(ConfigurationError, match="CIAL_ORCHESTRATOR_URL"):
            Settings.from_env({"CIAL_ORCHESTRATOR": "remote", "CIAL_ORCHESTRATOR_TOKEN": TOKEN})
        with pytest.raises(ConfigurationError, match="at least 32 bytes, got 5") as caught:
            Settings.from_env(
                {
                    "CIAL_ORCHESTRATOR": "remote",
                    "CIAL_ORCHESTRATOR_URL": "http://o:8090",
                    "CIAL_ORCHESTRATOR_TOKEN": "short",
                }
            )
        assert "short" not in str(caught.value)

    def test_the_token_is_not_in_the_settings_repr_and_the_driver_is_built(self) -> None:
        settings = Settings.from_env(
            {
                "CIAL_ORCHESTRATOR": "remote",
                "CIAL_ORCHESTRATOR_URL": "http://o:8090/",
                "CIAL_ORCHESTRATOR_TOKEN": TOKEN,
            }
        )
        assert settings.orchestrator_url == "http://o:8090"
        assert TOKEN not in repr(settings)
        assert build_orchestrator(settings).driver == "remote"


class TestTheService:
    def test_it_needs_a_token(self) -> None:
        with pytest.raises(
            ConfigurationError, match="CIAL_ORCHESTRATOR_TOKEN must be at least 32 bytes, got 0"
        ):
            ServiceSettings.from_env({})

    def test_it_reads_the_recipe_from_its_own_environment(self) -> None:
        settings = ServiceSettings.from_env(
            {
                "CIAL_ORCHESTRATOR_TOKEN": TOKEN,
                "CIAL_TENANT_IMAGE": "cial-tenant:x",
                "CIAL_TENANT_MEMORY": "512m",
            }
        )
        assert settings.engine.tenant_image == "cial-tenant:x"
        assert settings.engine.tenant_memory_bytes == 512 * 1024 * 1024
        assert settings.engine.orchestrator == "docker" and (settings.host, settings.port) == (
            "127.0.0.1",
            8090,
        )
        assert TOKEN not in repr(settings)

    def test_it_never_drives_another_service(self) -> None:
        with pytest.raises(ConfigurationError, match="must be docker"):
            ServiceSettings.from_env(
                {
                    "CIAL_ORCHESTRATOR_TOKEN": TOKEN,
                    "CIAL_ORCHESTRATOR": "remote",
                    "CIAL_ORCHESTRATOR_URL": "http://o:8090",
                }
            )
