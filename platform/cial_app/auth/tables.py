"""Users and their server-side sessions."""

from __future__ import annotations

from piccolo.columns import UUID, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

OWNER_SLOT = 1


class User(Table, tablename="users"):
    id = UUID(primary_key=True)
    email = Varchar(length=254, unique=True)
    name = Varchar(length=100)
    password_hash = Text()
    # OWNER_SLOT for the owner, NULL for anyone else. Its UNIQUE index makes the database, not a
    # read-then-write in Python, decide which of several racing sign-ups becomes the owner; that
    # holds on Postgres under READ COMMITTED as well as on SQLite.
    owner_slot = Integer(null=True, default=None, unique=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Session(Table, tablename="sessions"):
    id = UUID(primary_key=True)
    # SHA-256 of the cookie's token: a leaked table does not hand out live sessions.
    token_hash = Varchar(length=64, unique=True)
    user = ForeignKey(
        references=User, on_delete=OnDelete.cascade, db_column_name="user_id", null=False, index=True
    )
    created_at = Timestamptz()
    expires_at = Timestamptz(index=True)
