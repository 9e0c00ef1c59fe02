from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T19:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "tenants: one placement (machine_id, upstream_host/_port, published_port)"


def _params(**extra):
    return {
        "default": None,
        "null": True,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
        **extra,
    }


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="cial_app", description=DESCRIPTION)
    manager.rename_column(
        table_class_name="Tenant",
        tablename="tenants",
        old_column_name="container_id",
        new_column_name="machine_id",
        old_db_column_name="container_id",
        new_db_column_name="machine_id",
        schema=None,
    )
    manager.rename_column(
        table_class_name="Tenant",
        tablename="tenants",
        old_column_name="container_port",
        new_column_name="published_port",
        old_db_column_name="container_port",
        new_db_column_name="published_port",
        schema=None,
    )
    manager.add_column(
        table_class_name="Tenant",
        tablename="tenants",
        column_name="upstream_host",
        db_column_name="upstream_host",
        column_class_name="Varchar",
        column_class=Varchar,
        params=_params(length=255),
        schema=None,
    )
    manager.add_column(
        table_class_name="Tenant",
        tablename="tenants",
        column_name="upstream_port",
        db_column_name="upstream_port",
        column_class_name="Integer",
        column_class=Integer,
        params=_params(),
        schema=None,
    )
    return manager
