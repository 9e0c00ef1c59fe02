"""One App process per database: a second one refuses to start and names the first, and two
processes migrating at once apply each migration once.

Real Postgres (the project's image, on a loopback port) and the App as real processes
(`python -m cial_app`, tenants in memory: this is about the database, not Docker).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from spec.app_process import AppProcess
from spec.containers import ROOT, PostgresServer, spec_instance
from testkit.polling import eventually

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer(instance=spec_instance("l4-processes")) as server:
        yield server


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[list[AppProcess]]:
    started: list[AppProcess] = []
    try:
        yield started
    finally:
        for app in started:
            app.stop()


def settled(pair: list[AppProcess]) -> bool:
    """Each either serves or has ended."""
    return all(app.serving() or app.ended() for app in pair)


async def applied_migrations(url: str) -> list[str]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch("SELECT name FROM migration ORDER BY name")
    finally:
        await connection.close()
    return [row["name"] for row in rows]


def each_applied_once(applied: list[str]) -> bool:
    folder = ROOT / "platform" / "cial_app" / "piccolo_migrations"
    return len(applied) == len(set(applied)) == len(list(folder.glob("cial_app_*.py")))


class TestOneAppPerDatabase:
    def test_of_two_apps_booting_at_once_one_serves_and_the_other_refuses_naming_it(
        self, postgres: PostgresServer, apps: list[AppProcess], tmp_path: Path
    ) -> None:
        database = postgres.database()
        apps += [AppProcess(tmp_path, database, name) for name in ("first-app", "second-app")]
        eventually(lambda: settled(apps), timeout=90, what="both Apps to serve or end")
        # Either may win the race; the loser must end, not serve beside the winner.
        eventually(lambda: any(app.ended() for app in apps), timeout=30, what="one App to refuse")
        [winner] = [app for app in apps if not app.ended()]
        [loser] = [app for app in apps if app.ended()]
        assert winner.serving()
        assert loser.process.returncode != 0
        refusal = loser.output()
        assert "another App process already runs on this database" in refusal, refusal
        assert f"cial-app {winner.name}" in refusal, refusal
        # Each migration applied exactly once, by whichever App got there.
        applied = asyncio.run(applied_migrations(database))
        assert each_applied_once(applied), applied

    def test_once_the_first_app_stops_a_new_one_starts(
        self, postgres: PostgresServer, apps: list[AppProcess], tmp_path: Path
    ) -> None:
        database = postgres.database()
        first = AppProcess(tmp_path, database, "first-app")
        apps.append(first)
        eventually(first.serving, timeout=90, what="the first App to serve")
        first.stop()
        second = AppProcess(tmp_path, database, "second-app")
        apps.append(second)
        eventually(lambda: second.serving() or second.ended(), timeout=90, what="the second App to start")
        assert second.serving(), second.output()

    def test_an_app_on_another_database_of_the_same_server_starts(
        self, postgres: PostgresServer, apps: list[AppProcess], tmp_path: Path
    ) -> None:
        first = AppProcess(tmp_path, postgres.database(), "first-app")
        apps.append(first)
        eventually(first.serving, timeout=90, what="the first App to serve")
        other = AppProcess(tmp_path, postgres.database(), "other-app")
        apps.append(other)
        eventually(lambda: other.serving() or other.ended(), timeout=90, what="the other App to start")
        assert other.serving(), other.output()


class TestMigrationsUnderALock:
    def test_two_processes_migrating_at_once_apply_each_migration_once(
        self, postgres: PostgresServer, tmp_path: Path
    ) -> None:
        """Migrations alone (no App claim in front of them): two `migrate()` in two processes."""
        database = postgres.database()
        script = (
            "import asyncio\n"
            "from cial_app import db\n"
            "from cial_app.settings import Settings\n"
            "async def main():\n"
            "    engine = db.make_engine(Settings.from_env())\n"
            "    db.bind(engine)\n"
            "    await db.connect(engine, pool=False)\n"
            "    await db.migrate()\n"
            "asyncio.run(main())\n"
        )
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("platform", "proxy")),
            "DATABASE_URL": database,
        }
        runs = [
            subprocess.Popen(
                [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            for _ in range(2)
        ]
        outputs = [run.communicate(timeout=120)[0].decode(errors="replace") for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        applied = asyncio.run(applied_migrations(database))
        assert each_applied_once(applied), applied
