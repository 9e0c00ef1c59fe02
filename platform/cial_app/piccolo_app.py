"""The Piccolo app: the App's tables and their generated migrations."""

from __future__ import annotations

from pathlib import Path

from piccolo.conf.apps import AppConfig

from cial_app.auth.tables import Session, SignInAttempt, User
from cial_app.tenants.tables import Tenant, TenantEvent

APP_CONFIG = AppConfig(
    app_name="cial_app",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[User, Session, SignInAttempt, Tenant, TenantEvent],
    migration_dependencies=[],
    commands=[],
)
