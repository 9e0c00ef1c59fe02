from __future__ import annotations

import pytest
from cial_core.services import (
    AGENT_USER,
    CORE_BACK_SOCKET,
    CORE_FRONT_SOCKET,
    CORE_SOCKET_DIR,
    CORE_USER,
    PLATFORM_PYTHON,
    Service,
    agent_environment,
    core_environment,
    tenant_services,
)

CONTAINER_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/root",
    "HOSTNAME": "abc123",
    "LANG": "C.UTF-8",
    "TENANT_ID": "0b7c",
    "TENANT_SLUG": "demo",
    "CIAL_SSO_KEY": "secret-for-core",
    "CIAL_DATA_DIR": "/var/lib/cial",
    "DATABASE_URL": "postgres://x:y@db/z",
    "PYTHONPATH": "/tmp/evil",
    "LD_PRELOAD": "/tmp/evil.so",
}


class TestAgentEnvironment:
    def test_keeps_only_the_allow_list_and_its_own_identity(self) -> None:
        env = agent_environment(CONTAINER_ENV)
        assert env == {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TENANT_ID": "0b7c",
            "TENANT_SLUG": "demo",
            "PLATFORM_FRONT_PORT": "3000",
            "PLATFORM_BACK_PORT": "3001",
            "HOME": "/home/agent",
            "USER": "agent",
            "LOGNAME": "agent",
        }

    def test_no_cial_secret_reaches_agent(self) -> None:
        env = agent_environment({**CONTAINER_ENV, "CIAL_ANYTHING_NEW": "x"})
        assert not [key for key in env if key.startswith("CIAL_")]
        assert "secret-for-core" not in env.values()

    def test_gets_a_path_even_when_the_container_has_none(self) -> None:
        assert agent_environment({})["PATH"].startswith("/usr/local/sbin:")


class TestCoreEnvironment:
    def test_keeps_the_container_environment_with_cials_identity(self) -> None:
        env = core_environment(CONTAINER_ENV)
        assert env["CIAL_SSO_KEY"] == "secret-for-core"
        assert (env["HOME"], env["USER"]) == ("/home/cial", "cial")


class TestTenantServices:
    def test_each_service_runs_as_its_user(self) -> None:
        services = {service.name: service for service in tenant_services(CONTAINER_ENV)}
        assert {name: service.user for name, service in services.items()} == {
            "edge": CORE_USER,
            "core-back": CORE_USER,
            "core-front": CORE_USER,
            "platform-front": AGENT_USER,
        }
        assert services["platform-front"].extra_outputs == ("platform-back",)

    def test_the_edge_starts_first_and_the_platform_only_once_the_edge_holds_its_port(self) -> None:
        services = tenant_services(CONTAINER_ENV)
        assert [service.name for service in services] == ["edge", "platform-front", "core-back", "core-front"]
        platform = services[1]
        assert platform.starts_after == ("127.0.0.1:8080",)
        assert all(not service.starts_after for service in services if service is not platform)

    def test_cores_sockets_are_where_agent_cannot_take_them_first(self) -> None:
        # Why the platform need not wait for them: only Core's user may create files there.
        for path in (CORE_BACK_SOCKET, CORE_FRONT_SOCKET):
            assert path.startswith(CORE_SOCKET_DIR + "/")

    def test_core_runs_forked_functions_and_the_platform_its_own_interpreter(self) -> None:
        for service in tenant_services(CONTAINER_ENV):
            if service.user == CORE_USER:
                assert service.entry is not None
                assert service.entry.startswith("cial_core.")
                assert service.argv == ()
            else:
                assert service.entry is None
                assert service.argv[0] == PLATFORM_PYTHON
                assert service.argv[-1] == "cial_platform"

    def test_a_service_needs_exactly_one_way_to_run(self) -> None:
        with pytest.raises(ValueError, match="exactly one"):
            Service(name="x", user=None, env={})
        with pytest.raises(ValueError, match="exactly one"):
            Service(name="x", user=None, env={}, argv=("/bin/true",), entry="m:f")

    def test_agent_services_run_platform_code_with_the_filtered_environment(self) -> None:
        for service in tenant_services(CONTAINER_ENV):
            if service.user == AGENT_USER:
                assert service.argv[-1] == "cial_platform"
                assert "CIAL_SSO_KEY" not in service.env
                assert service.cwd == "/opt/cial-platform"

    def test_platform_interpreters_ignore_python_variables_from_the_environment(self) -> None:
        for service in tenant_services(CONTAINER_ENV):
            if service.argv:
                assert "-I" in service.argv
