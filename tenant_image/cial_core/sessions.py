"""The tenant's sign-in state on its volume: spent SSO token ids and Core's sessions, in SQLite.

Core back writes (:class:`SignInStore`), the edge only reads (:class:`SessionReader`); both run as
``cial``, and the file is in ``CIAL_DATA_DIR`` (``/var/lib/cial``, 0700), so ``agent`` can neither
read nor forge a session. The database keeps the SHA-256 of a session id, never the id itself:
a copy of the file (a backup, a snapshot) signs nobody in.

WAL mode: the edge reads while core back writes, and neither waits for the other. Commits are
``synchronous=FULL``: a spent token id must survive a crash, or a captured token could be
replayed within its minute after a restart. Sign-ins are rare; the fsync is affordable.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

FILE_NAME = "sign-in.sqlite3"
SESSION_SECONDS = 8 * 60 * 60
# What secrets.token_urlsafe(32) makes; anything else is not one of ours and is not looked up.
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")
# The edge reads on its event loop: a reader that must wait gives up quickly (WAL readers
# practically never wait; this bounds the rare case, e.g. the database being recovered).
READ_BUSY_SECONDS = 0.05
WRITE_BUSY_SECONDS = 5.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spent_tokens (
    jti TEXT PRIMARY KEY,
    keep_until INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (
    id_sha256 BLOB PRIMARY KEY,
    user_id TEXT NOT NULL,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
"""

_log = logging.getLogger("cial_core.sessions")

Clock = Callable[[], float]


class SignInStoreError(Exception):
    """The sign-in database cannot be used; the message says which file and why."""


class TokenAlreadyUsed(Exception):
    """The token's id was spent before: a replay."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a live session belongs to."""

    user_id: str
    email: str
    role: str


def session_hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode("ascii")).digest()


def looks_like_session_id(value: str) -> bool:
    return _SESSION_ID.fullmatch(value) is not None


def database_path(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


class SignInStore:
    """Core back's side: spend a token id and open a session in one transaction; close one.

    One connection behind a lock: Litestar runs the sign-in handlers in worker threads.
    """

    def __init__(self, data_dir: Path, clock: Clock = time.time) -> None:
        self.path = database_path(data_dir)
        self._clock = clock
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            try:
                connection = sqlite3.connect(
                    self.path, timeout=WRITE_BUSY_SECONDS, isolation_level=None, check_same_thread=False
                )
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=FULL")
                connection.executescript(_SCHEMA)
            except sqlite3.Error as error:
                raise SignInStoreError(f"cannot open {self.path}: {error}") from error
            self._connection = connection
        return self._connection

    def open_session(self, *, jti: str, keep_until: int, identity: Identity, session_id: str) -> None:
        """Spend ``jti`` (kept until ``keep_until``, a Unix time) and store the session of
        ``session_id``; raises :class:`TokenAlreadyUsed` if the id was spent before, and then
        stores nothing. Atomic: two requests with one token cannot both get a session."""
        now = int(self._clock())
        with self._lock:
            connection = self._connect()
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    connection.execute("DELETE FROM spent_tokens WHERE keep_until < ?", (now,))
                    connection.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
                    spent = connection.execute(
                        "INSERT INTO spent_tokens (jti, keep_until) VALUES (?, ?) ON CONFLICT DO NOTHING",
                        (jti, keep_until),
                    )
                    if spent.rowcount != 1:
                        raise TokenAlreadyUsed(jti)
                    connection.execute(
                        "INSERT INTO sessions (id_sha256, user_id, email, role, expires_at)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (
                            session_hash(session_id),
                            identity.user_id,
                            identity.email,
                            identity.role,
                            now + SESSION_SECONDS,
                        ),
                    )
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
                connection.execute("COMMIT")
            except sqlite3.Error as error:
                self._forget()
                raise SignInStoreError(f"cannot write {self.path}: {error}") from error

    def close_session(self, session_id: str) -> None:
        if not looks_like_session_id(session_id):
            return
        with self._lock:
            try:
                self._connect().execute(
                    "DELETE FROM sessions WHERE id_sha256 = ?", (session_hash(session_id),)
                )
            except sqlite3.Error as error:
                self._forget()
                raise SignInStoreError(f"cannot write {self.path}: {error}") from error

    def _forget(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        with self._lock:
            self._forget()


class SessionReader:
    """The edge's side: who a session id belongs to, if it is live. Reads only.

    No cache: a lookup is one primary-key read from a file in the page cache (a few microseconds,
    ``bench/sso_verify.py`` prints it), and without a cache a sign-out takes effect on the next
    request. Until core back has made the database there is nothing to find, and nothing is made
    here: the file is opened without ``create`` and tried again on the next lookup.
    """

    def __init__(self, data_dir: Path, clock: Clock = time.time) -> None:
        self.path = database_path(data_dir)
        self._clock = clock
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(
                f"file:{self.path}?mode=rw", uri=True, timeout=READ_BUSY_SECONDS, isolation_level=None
            )
            connection.execute("PRAGMA query_only=ON")
            self._connection = connection
        return self._connection

    def lookup(self, session_id: str) -> Identity | None:
        if not looks_like_session_id(session_id):
            return None
        try:
            row = (
                self._connect()
                .execute(
                    "SELECT user_id, email, role FROM sessions WHERE id_sha256 = ? AND expires_at > ?",
                    (session_hash(session_id), int(self._clock())),
                )
                .fetchone()
            )
        except sqlite3.Error as error:
            # Not made yet (no file, no table), or unreadable: nobody is signed in. Said once per
            # failure; the next lookup opens the file again.
            _log.debug("sessions unavailable in %s: %s", self.path, error)
            self.close()
            return None
        return None if row is None else Identity(*row)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
