"""A visit counter kept on the tenant's volume: the smallest piece of real tenant data.

Later phases restart and recreate tenant containers and show that this number survives. The file
is replaced atomically (write a temporary file, fsync, rename), so a crash mid-write leaves the
old count, never a torn file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

FILE_NAME = "visits.json"


class VisitStoreError(Exception):
    """The counter file exists but cannot be used; the message says which file and why."""


class VisitCounter:
    """Reads and increments one count in ``<data_dir>/visits.json``.

    Not safe across processes: core back is its only writer, and within its event loop a call
    runs from read to rename without yielding.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME

    def read(self) -> int:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return 0
        except OSError as error:
            raise VisitStoreError(f"cannot read {self.path}: {error.strerror}") from error
        try:
            count = json.loads(raw)["visits"]
        except (ValueError, KeyError, TypeError) as error:
            raise VisitStoreError(f"{self.path} is not a visit counter file: {error}") from error
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise VisitStoreError(f"{self.path} holds an invalid count: {count!r}")
        return count

    def increment(self) -> int:
        count = self.read() + 1
        self._write(count)
        return count

    def _write(self, count: int) -> None:
        temporary = self.path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
        try:
            with temporary.open("w", encoding="utf-8") as handle:
                json.dump({"visits": count}, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise VisitStoreError(f"cannot write {self.path}: {error.strerror}") from error
