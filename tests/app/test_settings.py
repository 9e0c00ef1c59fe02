"""Settings from the environment: defaults for local mode, clear errors for bad values."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cial_app.errors import ConfigurationError
from cial_app.settings import HealthVia, Settings


class TestSettingsFromEnvironment:
    def test_an_empty_environment_gives_local_defaults(self) -> None:
        settings = Settings.from_env({})
        assert settings.database_url is None
        assert settings.sqlite_path == Path("cial-app.sqlite3")
        # Loopback unless told otherwise: the App is not exposed to the network by default.
        assert (settings.host, settings.port) == ("127.0.0.1", 3100)
        assert settings.cookie_secure is False
        assert settings.tenant_image == "cial-tenant:dev"
        assert settings.docker_network is None
        assert settings.orchestrator == "docker"
        assert settings.instance == "local"
        assert settings.health_via is HealthVia.PUBLISHED
        assert settings.health_deadline_seconds == 30.0
        assert settings.reconcile_interval_seconds == 5.0
        assert settings.sso_secret is None
        assert settings.admin_url == "http://localhost:3100/admin"
        assert settings.allowed_hosts == {"localhost", "127.0.0.1", "[::1]"}
        assert (settings.tenant_memory_bytes, settings.tenant_cpus, settings.tenant_pids_limit) == (
            256 * 1024 * 1024,
            float(min(2, os.cpu_count() or 1)),
            256,
        )

    def test_every_variable_is_read(self) -> None:
        settings = Settings.from_env(
            {
                "DATABASE_URL": "postgresql://cial:pw@postgres:5432/cial",
                "CIAL_SQLITE_PATH": "/tmp/x.sqlite3",
                "CIAL_DATABASE_POOL": "off",
                "CIAL_SOLE_APP_WAIT_SECONDS": "2.5",
                "CIAL_APP_HOST": "0.0.0.0",
                "CIAL_APP_PORT": "3200",
                "CIAL_SESSION_TTL_SECONDS": "3600",
                "CIAL_COOKIE_SECURE": "true",
                "CIAL_SIGNIN_MAX_FAILURES": "7",
                "CIAL_SIGNIN_MAX_FAILURES_PER_CLIENT": "70",
                "CIAL_SIGNIN_BACKOFF_FIRST_SECONDS": "2",
                "CIAL_SIGNIN_BACKOFF_MAX_SECONDS": "600",
                "CIAL_SIGNIN_FORGET_SECONDS": "7200",
                "CIAL_PASSWORD_HASH_THREADS": "3",
                "CIAL_PASSWORD_HASH_QUEUE": "8",
                "CIAL_TRUSTED_ORIGINS": "https://Admin.Example.com/, http://localhost:3100",
                "CIAL_ALLOWED_HOSTS": "localhost, App-Api.,::1",
                "CIAL_TENANT_IMAGE": "cial-tenant:test",
                "CIAL_DOCKER_NETWORK": "cial_default",
                "CIAL_SSO_SECRET": "s3cret-s3cret-s3cret-s3cret-s3cret",
                "CIAL_ADMIN_URL": "http://localhost:3200/admin/",
                "CIAL_DEBUG": "1",
                "CIAL_ORCHESTRATOR": "memory",
                "CIAL_INSTANCE": "spec-1",
                "CIAL_TENANT_HEALTH_VIA": "upstream",
                "CIAL_TENANT_HEALTH_DEADLINE_SECONDS": "12.5",
                "CIAL_RECONCILE_INTERVAL_SECONDS": "2",
                "CIAL_TENANT_MEMORY": "512m",
                "CIAL_TENANT_CPUS": "0.5",
                "CIAL_TENANT_PIDS_LIMIT": "128",
            }
        )
        assert settings == Settings(
            database_url="postgresql://cial:pw@postgres:5432/cial",
            sqlite_path=Path("/tmp/x.sqlite3"),
            database_pool=False,
            sole_app_wait_seconds=2.5,
            host="0.0.0.0",
            port=3200,
            session_ttl_seconds=3600,
            cookie_secure=True,
            signin_max_failures=7,
            signin_max_failures_per_client=70,
            signin_backoff_first_seconds=2,
            signin_backoff_max_seconds=600,
            signin_forget_seconds=7200,
            password_hash_threads=3,
            password_hash_queue=8,
            trusted_origins=frozenset({"https://admin.example.com", "http://localhost:3100"}),
            allowed_hosts=frozenset({"localhost", "app-api", "[::1]"}),
            tenant_image="cial-tenant:test",
            docker_network="cial_default",
            sso_secret="s3cret-s3cret-s3cret-s3cret-s3cret",
            admin_url="http://localhost:3200/admin",
            debug=True,
            orchestrator="memory",
            instance="spec-1",
            health_via=HealthVia.UPSTREAM,
            health_deadline_seconds=12.5,
            reconcile_interval_seconds=2.0,
            tenant_memory_bytes=512 * 1024 * 1024,
            tenant_cpus=0.5,
            tenant_pids_limit=128,
        )

    def test_an_empty_database_url_means_sqlite(self) -> None:
        assert Settings.from_env({"DATABASE_URL": ""}).database_url is None

    @pytest.mark.parametrize(
        ("env", "words"),
        [
            ({"CIAL_APP_PORT": "http"}, "CIAL_APP_PORT must be an integer"),
            ({"CIAL_APP_PORT": "70000"}, "between 1 and 65535"),
            ({"CIAL_SESSION_TTL_SECONDS": "5"}, ">= 60"),
            ({"CIAL_COOKIE_SECURE": "maybe"}, "true or false"),
            (
                {"CIAL_ORCHESTRATOR": "kubernetes"},
                "CIAL_ORCHESTRATOR must be one of docker, fly, memory, remote",
            ),
            (
                {"CIAL_TENANT_HEALTH_VIA": "magic"},
                "CIAL_TENANT_HEALTH_VIA must be one of published, upstream, router",
            ),
            ({"CIAL_TENANT_HEALTH_VIA": "upstream"}, "CIAL_DOCKER_NETWORK, which is not set"),
            ({"CIAL_TENANT_MEMORY": "lots"}, "CIAL_TENANT_MEMORY: memory limit 'lots' is not a size"),
            ({"CIAL_TENANT_MEMORY": "1m"}, "at least 16m"),
            ({"CIAL_TENANT_CPUS": "0"}, "CIAL_TENANT_CPUS must be between 0.01 and 64"),
            ({"CIAL_TENANT_CPUS": "nan"}, "CIAL_TENANT_CPUS must be between"),
            ({"CIAL_TENANT_PIDS_LIMIT": "4"}, ">= 16"),
            ({"CIAL_RECONCILE_INTERVAL_SECONDS": "0.1"}, ">= 0.5"),
            ({"CIAL_TENANT_HEALTH_DEADLINE_SECONDS": "soon"}, "must be a number"),
            ({"CIAL_INSTANCE": "two words"}, "CIAL_INSTANCE must be"),
            ({"CIAL_TENANT_HEALTH_VIA": "router"}, "needs CIAL_ROUTER_CONTROL_URL"),
            ({"CIAL_TENANT_SUBNET_POOL": "ten.0.0.0/8"}, "must be a network like"),
            ({"CIAL_TENANT_SUBNET_POOL": "10.0.0.0/30"}, "smaller than one tenant's /29"),
            ({"CIAL_TENANT_URL_TEMPLATE": "http://localhost:8080"}, "must contain {slug}"),
            ({"CIAL_SSO_SECRET": "short"}, "CIAL_SSO_SECRET must be at least 32 bytes, got 5"),
            ({"CIAL_ADMIN_URL": "localhost:3100/admin"}, "CIAL_ADMIN_URL must be an http"),
            (
                {"CIAL_SIGNIN_BACKOFF_MAX_SECONDS": "1800", "CIAL_SIGNIN_FORGET_SECONDS": "600"},
                "CIAL_SIGNIN_FORGET_SECONDS must be >= 1800",
            ),
            ({"CIAL_PASSWORD_HASH_THREADS": "0"}, "CIAL_PASSWORD_HASH_THREADS must be between 1 and 64"),
            ({"CIAL_SETUP_TOKEN": "short"}, "CIAL_SETUP_TOKEN must be at least 16 characters, got 5"),
            ({"CIAL_ALLOWED_HOSTS": "localhost:3100"}, "CIAL_ALLOWED_HOSTS takes host names without a port"),
            ({"CIAL_ALLOWED_HOSTS": "http://localhost"}, "got 'http://localhost'"),
        ],
    )
    def test_bad_values_are_refused_with_the_variable_named(self, env: dict[str, str], words: str) -> None:
        with pytest.raises(ConfigurationError, match=words):
            Settings.from_env(env)


def test_the_admins_own_host_is_always_allowed() -> None:
    settings = Settings.from_env(
        {"CIAL_ALLOWED_HOSTS": "localhost", "CIAL_ADMIN_URL": "https://Admin.Example:8443/admin"}
    )
    assert settings.allowed_hosts == {"localhost", "admin.example"}


def test_the_setup_token_is_read_and_never_in_the_settings_repr() -> None:
    token = "t" * 40
    settings = Settings.from_env({"CIAL_SETUP_TOKEN": token})
    assert settings.setup_token == token
    assert token not in repr(settings)
    assert Settings.from_env({}).setup_token is None


def test_the_sso_secret_is_never_in_the_settings_repr() -> None:
    secret = "m" * 40
    settings = Settings.from_env({"CIAL_SSO_SECRET": secret})
    assert settings.sso_secret == secret
    assert secret not in repr(settings)


def test_the_router_settings_are_read_together() -> None:
    settings = Settings.from_env(
        {
            "CIAL_TENANT_HEALTH_VIA": "router",
            "CIAL_ROUTER_CONTROL_URL": "http://router:8081",
            "CIAL_TENANT_SUBNET_POOL": "10.213.0.0/16",
        }
    )
    assert settings.health_via is HealthVia.ROUTER
    assert settings.tenant_subnet_pool == "10.213.0.0/16"
    assert settings.tenant_url("acme") == "http://acme.localhost:8080"
