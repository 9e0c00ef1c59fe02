"""Checks on free text shared by the input rules (a person's and a tenant's names alike)."""

from __future__ import annotations

import re

from cial_app.errors import InvalidInput

NAME_MAX = 100

# C0 and C1 control characters and DEL. Postgres refuses NUL in text outright (a 500 waiting to
# happen), and the others only garble names on the admin pages.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def has_control_characters(value: str) -> bool:
    return _CONTROL.search(value) is not None


def check_name(raw: str) -> str:
    """A display name: trimmed, 1 to NAME_MAX characters, no control characters."""
    name = raw.strip()
    if not name:
        raise InvalidInput("Name is required.", field="name")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"Name must be at most {NAME_MAX} characters.", field="name")
    if has_control_characters(name):
        raise InvalidInput("Name may not contain control characters.", field="name")
    return name
