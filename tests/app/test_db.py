"""The database: which engine a setting picks, and migrations that are safe on every boot."""

from __future__ import annotations

from pathlib import Path

import pytest
from cial_app import db
from cial_app.errors import ConfigurationError
from cial_app.settings import Settings
from cial_app.tenants.tables import Tenant
from piccolo.apps.migrations.tables import Migration
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from .conftest import OWNER, run_app

TABLES = {"users", "sessions", "tenants", "tenant_events"}


async def table_names() -> set[str]:
    if isinstance(Migration._meta.db, SQLiteEngine):
        rows = await Migration.raw("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        rows = await Migration.raw("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'")
    return {row["name"] for row in rows}


class TestEngineChoice:
    def test_without_database_url_the_app_uses_the_sqlite_file(self, tmp_path: Path) -> None:
        engine = db.make_engine(Settings(sqlite_path=tmp_path / "x.sqlite3"))
        assert isinstance(engine, SQLiteEngine)
        assert engine.path == str(tmp_path / "x.sqlite3")

    @pytest.mark.parametrize(
        "url", ["postgres://u:p@127.0.0.1:9/cial", "postgresql://u:p@127.0.0.1:9/cial?sslmode=disable"]
    )
    def test_a_postgres_url_gives_a_postgres_engine_configured_from_it(self, url: str) -> None:
        engine = db.make_engine(Settings(database_url=url))
        assert isinstance(engine, PostgresEngine)
        assert engine.config == {"dsn": url}

    def test_another_kind_of_url_is_a_configuration_error(self) -> None:
        with pytest.raises(ConfigurationError, match="postgres"):
            db.make_engine(Settings(database_url="mysql://u:p@db/cial"))


class TestMigrations:
    # Through run_app, not Litestar's test client alone: it also waits for the App's last database
    # work (a tenant job cancelled at shutdown) to end while this test's loop still runs.
    async def test_the_first_boot_creates_every_table(self, settings: Settings) -> None:
        async with run_app(settings):
            assert await table_names() >= TABLES

    async def test_migrating_twice_applies_nothing_the_second_time_and_loses_nothing(
        self, settings: Settings
    ) -> None:
        async with run_app(settings) as running:
            await running.client.post("/api/auth/sign-up/email", json=OWNER)
            await running.client.post("/api/admin/tenants", json={"slug": "acme", "name": "Acme"})
            applied = await Migration.count()
            report = await db.migrate()
            assert any("No migrations need to be run" in line for line in report), report
            assert await Migration.count() == applied
        async with run_app(settings):
            assert await Migration.count() == applied
            assert [t.slug for t in await Tenant.objects()] == ["acme"]

    async def test_every_migration_is_recorded_once(self, settings: Settings) -> None:
        async with run_app(settings):
            names = [row["name"] for row in await Migration.select(Migration.name)]
            assert names
            assert len(names) == len(set(names))


class TestUniqueViolations:
    def test_sqlite_unique_errors_are_recognised_and_others_are_not(self) -> None:
        import sqlite3

        assert db.is_unique_violation(sqlite3.IntegrityError("UNIQUE constraint failed: tenants.slug"))
        assert not db.is_unique_violation(sqlite3.IntegrityError("NOT NULL constraint failed: tenants.name"))
        assert not db.is_unique_violation(ValueError("UNIQUE"))

    def test_postgres_unique_errors_are_recognised(self) -> None:
        from asyncpg.exceptions import (  # type: ignore[import-untyped]
            NotNullViolationError,
            UniqueViolationError,
        )

        assert db.is_unique_violation(UniqueViolationError("duplicate key"))
        assert not db.is_unique_violation(NotNullViolationError("null"))
