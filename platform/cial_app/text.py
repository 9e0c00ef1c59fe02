"""Checks on free text shared by the input rules."""

from __future__ import annotations

import re

# C0 and C1 control characters and DEL. Postgres refuses NUL in text outright (a 500 waiting to
# happen), and the others only garble names on the admin pages.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def has_control_characters(value: str) -> bool:
    return _CONTROL.search(value) is not None
