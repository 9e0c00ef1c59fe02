"""The Docker driver's edges that need no engine: reading inspect data, and no engine at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cial_app.orchestrator import Endpoint, EngineUnavailable, Health, MachineState, get_orchestrator
from cial_app.orchestrator.docker_inspect import machine_of, timestamp


def inspected(**state: Any) -> dict[str, Any]:
    """The shape of `GET /containers/{id}/json`, reduced to what the driver reads."""
    return {
        "Id": "abc123",
        "Name": "/cial-tenant-acme",
        "Created": "2026-01-01T12:00:00.123456789Z",
        "RestartCount": 2,
        "Config": {"Image": "cial-tenant:dev", "Labels": {"cial.tenant": "7", "cial.slug": "acme"}},
        "State": {"Status": "running", "ExitCode": 0, "OOMKilled": False, "Error": "", **state},
        "NetworkSettings": {
            "Ports": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32769"}]},
            "Networks": {"bridge": {"IPAddress": "172.17.0.5"}},
        },
        "Mounts": [{"Type": "volume", "Name": "cial-tenant-7-data", "Destination": "/var/lib/cial"}],
    }


class TestReadingInspectData:
    def test_a_running_container_becomes_a_machine(self) -> None:
        machine = machine_of(inspected())
        assert (machine.tenant_id, machine.slug, machine.name, machine.state) == (
            "7",
            "acme",
            "cial-tenant-acme",
            MachineState.RUNNING,
        )
        assert (machine.published_port, machine.volume, machine.restart_count) == (
            32769,
            "cial-tenant-7-data",
            2,
        )

    def test_on_the_default_bridge_the_upstream_is_the_ip(self) -> None:
        assert machine_of(inspected()).upstream == Endpoint("172.17.0.5", 8080)

    def test_on_a_user_network_the_upstream_is_the_name(self) -> None:
        attrs = inspected()
        attrs["NetworkSettings"]["Networks"] = {"cial_default": {"IPAddress": "10.0.0.3"}}
        assert machine_of(attrs).upstream == Endpoint("cial-tenant-acme", 8080)

    def test_a_stopped_container_has_no_upstream(self) -> None:
        assert machine_of(inspected(Status="exited")).upstream is None

    @pytest.mark.parametrize("code", [0, 143, 137])
    def test_an_exit_after_a_stop_request_is_stopped(self, code: int) -> None:
        machine = machine_of(inspected(Status="exited", ExitCode=code))
        assert (machine.state, machine.exit_code) == (MachineState.STOPPED, code)

    def test_an_exit_with_an_error_code_is_exited(self) -> None:
        assert machine_of(inspected(Status="exited", ExitCode=1)).state is MachineState.EXITED

    def test_an_out_of_memory_kill_is_exited_with_the_reason(self) -> None:
        machine = machine_of(inspected(Status="exited", ExitCode=137, OOMKilled=True))
        assert machine.state is MachineState.EXITED
        assert machine.error is not None and "out of memory" in machine.error

    def test_a_stopped_container_has_no_port(self) -> None:
        attrs = inspected(Status="exited")
        attrs["NetworkSettings"]["Ports"] = {}
        assert machine_of(attrs).published_port is None

    def test_the_images_healthcheck_status_is_read(self) -> None:
        assert machine_of(inspected(Health={"Status": "healthy"})).health is Health.HEALTHY
        assert machine_of(inspected()).health is Health.UNKNOWN


class TestTimestamps:
    def test_nanoseconds_are_cut_to_microseconds(self) -> None:
        parsed = timestamp("2026-01-01T12:00:00.123456789Z")
        assert parsed == datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)

    def test_a_volume_time_to_the_second_is_rounded_up(self) -> None:
        exact = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        assert timestamp("2026-01-01T12:00:00Z", round_up=True) == exact + timedelta(seconds=1)

    def test_garbage_is_no_time(self) -> None:
        assert timestamp("yesterday") is None and timestamp(None) is None


class TestNoEngine:
    async def test_an_engine_that_is_not_there_is_engine_unavailable_with_where_and_why(self) -> None:
        driver = get_orchestrator("docker", base_url="unix:///nonexistent.sock")
        with pytest.raises(EngineUnavailable) as raised:
            await driver.status("7")
        reason = raised.value.reason
        assert "unix:///nonexistent.sock" in reason and "no such file or directory" in reason
        assert "Docker running" in reason

    async def test_every_operation_fails_the_same_typed_way(self) -> None:
        driver = get_orchestrator("docker", base_url="unix:///nonexistent.sock")
        for call in (driver.list_machines(), driver.list_volumes(), driver.stop("7"), driver.destroy("7")):
            with pytest.raises(EngineUnavailable):
                await call
