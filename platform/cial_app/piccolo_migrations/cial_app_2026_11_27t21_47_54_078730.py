from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Text
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-27T21:47:54:078730"
VERSION = "1.38.0"
DESCRIPTION = "tenants: desired_state (what the owner wants) and state_reason"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="cial_app", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Tenant",
        tablename="tenants",
        column_name="desired_state",
        db_column_name="desired_state",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 20,
            "default": "running",
            "null": False,
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

    manager.add_column(
        table_class_name="Tenant",
        tablename="tenants",
        column_name="state_reason",
        db_column_name="state_reason",
        column_class_name="Text",
        column_class=Text,
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
