from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T18:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "tenants: idle_after_seconds (stopped by the router after that long unused; NULL: never)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="cial_app", description=DESCRIPTION)
    # NULL for the tenants that exist: an upgrade never stops a tenant by surprise; new tenants
    # get the App's default (CIAL_IDLE_MINUTES) when they are created.
    manager.add_column(
        table_class_name="Tenant",
        tablename="tenants",
        column_name="idle_after_seconds",
        db_column_name="idle_after_seconds",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )
    return manager
