"""Choosing a driver by name, and what importing the package costs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cial_app.orchestrator import Orchestrator, UnknownDriver, drivers, get_orchestrator

ROOT = Path(__file__).resolve().parents[2]


def modules_loaded_by(statement: str) -> set[str]:
    """The modules a fresh interpreter holds after running `statement`."""
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "platform")},
        capture_output=True,
        text=True,
        check=True,
    )
    return set(result.stdout.split())


class TestImportCost:
    def test_importing_the_package_does_not_import_the_docker_sdk(self) -> None:
        loaded = modules_loaded_by("import cial_app.orchestrator")
        assert "cial_app.orchestrator" in loaded
        assert not {"docker", "requests", "cial_app.orchestrator.docker"} & loaded

    def test_importing_the_package_imports_neither_web_framework_nor_orm(self) -> None:
        loaded = modules_loaded_by("import cial_app.orchestrator")
        assert not {m for m in loaded if m.split(".")[0] in {"litestar", "piccolo"}}

    def test_choosing_the_docker_driver_imports_it(self) -> None:
        loaded = modules_loaded_by("import cial_app.orchestrator as o; o.get_orchestrator('docker')")
        assert {"docker", "cial_app.orchestrator.docker"} <= loaded

    def test_building_the_docker_driver_does_not_contact_the_engine(self) -> None:
        # An App started while Docker is down must still start.
        loaded = modules_loaded_by(
            "import cial_app.orchestrator as o; o.get_orchestrator('docker', base_url='unix:///nonexistent.sock')"
        )
        assert "cial_app.orchestrator.docker" in loaded


class TestRegistry:
    def test_the_known_drivers_are_listed(self) -> None:
        assert drivers() == ["docker", "fly", "memory", "remote"]

    def test_a_driver_satisfies_the_protocol(self) -> None:
        assert isinstance(get_orchestrator("memory"), Orchestrator)

    def test_settings_are_passed_to_the_driver(self) -> None:
        driver = get_orchestrator("memory", images=("x:1",))
        assert driver.driver == "memory"

    def test_an_unknown_driver_names_the_known_ones(self) -> None:
        with pytest.raises(UnknownDriver, match=r"'kubernetes'.*docker, fly, memory, remote") as raised:
            get_orchestrator("kubernetes")
        assert raised.value.code == "unknown_driver"
