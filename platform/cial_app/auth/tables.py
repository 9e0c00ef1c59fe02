"""Users, their server-side sessions, and the sign-in attempts the throttle counts."""

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


class SignInAttempt(Table, tablename="signin_attempts"):
    """Sign-in attempts per (e-mail, client address), for the throttle (`auth.throttle`).

    In the database, not in memory: a restart must not hand an attacker a fresh allowance, and
    every attempt is counted in the same transaction that checks the count.
    """

    # sha256 of (e-mail, client): one row per pair, whatever the lengths of the two.
    key = Varchar(length=64, primary_key=True)
    # The e-mail as typed (trimmed, lower-case), or ANY_EMAIL for a client's count over all of them.
    email = Varchar(length=254)
    client = Varchar(length=64)
    # Attempts that were let through to the password check and did not succeed (yet).
    failures = Integer(default=0)
    # The last attempt let through; the backoff runs from here, and a quiet key is pruned by it.
    last_attempt_at = Timestamptz(index=True)
