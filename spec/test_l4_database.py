"""L4 (section 3, the database part): the App's database role is not a superuser, and no
password from the repo opens Postgres.

Runs against compose.yml (real Postgres, the App's image) with the per-stack random secrets of
ComposeStack, the way `make local-up` runs it with the ones ci/secrets.sh generates. SQL goes
over the stack's network with the App's own credentials, read from its container's DATABASE_URL.
"""

from __future__ import annotations

import subprocess

import httpx
import pytest

from spec.containers import APP_DB_ROLE, DB_SUPERUSER, ROOT, ComposeStack, compose_command
from testkit.owner import Owner
from testkit.owner import sign_up as sign_up_with

pytestmark = pytest.mark.docker


def sign_up(stack: ComposeStack, owner: Owner) -> httpx.Response:
    with httpx.Client(base_url=stack.app_url, timeout=30) as client:
        return sign_up_with(client, owner, stack.setup_token)


OWNER = Owner(name="Ada Owner", email="ada@example.com")
# What compose.yml gave Postgres and the App before the secrets were generated.
OLD_IN_REPO_PASSWORD = "cial-local-only"


@pytest.fixture(scope="module")
def clean_stack(stack: ComposeStack) -> ComposeStack:
    stack.fresh()
    return stack


def query(stack: ComposeStack, user: str, password: str, sql: str) -> str:
    result = stack.psql(user, password, sql)
    assert result.returncode == 0, f"{user} could not run {sql!r}: {result.stderr}"
    return result.stdout.strip()


def as_app(stack: ComposeStack, sql: str) -> subprocess.CompletedProcess[str]:
    user, password = stack.app_database_credentials()
    return stack.psql(user, password, sql)


def as_app_query(stack: ComposeStack, sql: str) -> str:
    user, password = stack.app_database_credentials()
    return query(stack, user, password, sql)


def role_attributes(stack: ComposeStack) -> str:
    return as_app_query(
        stack,
        "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls"
        " FROM pg_roles WHERE rolname = current_user",
    )


def objects_not_owned_by_the_app(stack: ComposeStack) -> str:
    return as_app_query(
        stack,
        "SELECT string_agg(c.relname, ',') FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
        " AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user)",
    )


class TestDatabaseRoles:
    def test_the_app_connects_as_its_own_role_not_the_superuser(self, clean_stack: ComposeStack) -> None:
        user, password = clean_stack.app_database_credentials()
        assert user == APP_DB_ROLE
        assert password == clean_stack.app_db_password
        # The App holds neither the superuser's password nor a superuser's connection string.
        assert clean_stack.postgres_password not in "".join(clean_stack.app_environment().values())

    def test_the_app_role_is_not_a_superuser_and_cannot_create_roles_or_databases(
        self, clean_stack: ComposeStack
    ) -> None:
        assert role_attributes(clean_stack) == f"{APP_DB_ROLE}|f|f|f|f|f"

    @pytest.mark.parametrize(
        "sql",
        ["CREATE ROLE intruder LOGIN", "CREATE DATABASE intruder", f"ALTER ROLE {APP_DB_ROLE} SUPERUSER"],
    )
    def test_the_app_role_is_refused_roles_databases_and_superuser(
        self, clean_stack: ComposeStack, sql: str
    ) -> None:
        result = as_app(clean_stack, sql)
        assert result.returncode != 0
        assert "permission denied" in result.stderr or "must be superuser" in result.stderr

    def test_the_app_migrated_and_owns_the_database_and_every_table(self, clean_stack: ComposeStack) -> None:
        owner = as_app_query(
            clean_stack, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        )
        assert owner == APP_DB_ROLE
        tables = as_app_query(clean_stack, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert int(tables) > 1, "the App's migrations made no tables"
        assert objects_not_owned_by_the_app(clean_stack) == ""

    def test_the_app_serves_and_the_owner_signs_up(self, clean_stack: ComposeStack) -> None:
        assert httpx.get(f"{clean_stack.app_url}/healthz", timeout=10).status_code == 200
        # Tests run in random order: the upgrade below may have signed the owner up already, and
        # then sign-up is closed (403). Either way the owner's row went through the App's role.
        assert sign_up(clean_stack, OWNER).status_code in (200, 403)
        signed = httpx.post(
            f"{clean_stack.app_url}/api/auth/sign-in/email",
            json={"email": OWNER.email, "password": OWNER.password},
            timeout=30,
        )
        assert signed.status_code == 200

    @pytest.mark.parametrize("user", [DB_SUPERUSER, APP_DB_ROLE])
    def test_the_old_in_repo_password_is_refused(self, clean_stack: ComposeStack, user: str) -> None:
        result = clean_stack.psql(user, OLD_IN_REPO_PASSWORD, "SELECT 1")
        assert result.returncode != 0
        assert "password authentication failed" in result.stderr

    def test_the_superuser_answers_to_its_generated_password_for_administration(
        self, clean_stack: ComposeStack
    ) -> None:
        sql = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        assert query(clean_stack, DB_SUPERUSER, clean_stack.postgres_password, sql) == "t"


class TestAVolumeFromBeforeTheAppRole:
    """A data volume made when the App connected as the superuser with the in-repo password:
    `make local-up` (the stack's `up`) brings it in line and keeps its data."""

    @pytest.fixture(scope="class")
    def upgraded(self, clean_stack: ComposeStack) -> ComposeStack:
        if sign_up(clean_stack, OWNER).status_code not in (200, 403):
            pytest.fail("the owner could not sign up")
        clean_stack.compose("stop", "app-api")
        # Back to what the old compose.yml left: everything the superuser's, no App role, the
        # superuser's password the one written in the repo.
        clean_stack.superuser_sql(
            f"REASSIGN OWNED BY {APP_DB_ROLE} TO {DB_SUPERUSER}; DROP OWNED BY {APP_DB_ROLE};"
            f" DROP ROLE {APP_DB_ROLE}; ALTER ROLE {DB_SUPERUSER} PASSWORD '{OLD_IN_REPO_PASSWORD}'"
        )
        roles = clean_stack.superuser_sql(f"SELECT count(*) FROM pg_roles WHERE rolname = '{APP_DB_ROLE}'")
        assert roles == "0"
        clean_stack.up()
        return clean_stack

    def test_the_app_role_exists_again_and_is_not_a_superuser(self, upgraded: ComposeStack) -> None:
        assert role_attributes(upgraded) == f"{APP_DB_ROLE}|f|f|f|f|f"

    def test_the_app_took_over_the_tables_the_superuser_owned(self, upgraded: ComposeStack) -> None:
        assert objects_not_owned_by_the_app(upgraded) == ""

    def test_the_owner_and_the_closed_sign_up_survive(self, upgraded: ComposeStack) -> None:
        signed = httpx.post(
            f"{upgraded.app_url}/api/auth/sign-in/email",
            json={"email": OWNER.email, "password": OWNER.password},
            timeout=30,
        )
        assert signed.status_code == 200
        assert sign_up(upgraded, Owner(name="Eve", email="eve@example.com")).status_code == 403

    def test_the_old_in_repo_password_no_longer_opens_the_superuser(self, upgraded: ComposeStack) -> None:
        result = upgraded.psql(DB_SUPERUSER, OLD_IN_REPO_PASSWORD, "SELECT 1")
        assert result.returncode != 0
        assert "password authentication failed" in result.stderr
        assert query(upgraded, DB_SUPERUSER, upgraded.postgres_password, "SELECT 1") == "1"


class TestSecretsComeFromOutsideTheRepo:
    @pytest.mark.parametrize("secret", ["CIAL_POSTGRES_PASSWORD", "CIAL_APP_DB_PASSWORD", "CIAL_SSO_SECRET"])
    def test_compose_refuses_to_run_without_a_generated_secret(self, secret: str) -> None:
        project = "cialspec-nosecrets"
        env = {k: v for k, v in ComposeStack(project=project).env.items() if k != secret}
        command = [*compose_command().split(), "-f", str(ROOT / "compose.yml"), "-p", project, "config"]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode != 0
        assert f"{secret} is missing; run make local-up" in result.stderr

    def test_compose_yml_holds_no_password_nor_a_default_for_one(self) -> None:
        compose = (ROOT / "compose.yml").read_text()
        assert OLD_IN_REPO_PASSWORD not in compose
        assert "PASSWORD:-" not in compose and "SECRET:-" not in compose
