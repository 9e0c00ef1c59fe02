"""What a valid account looks like; each broken rule names its field and the rule."""

from __future__ import annotations

import re

from cial_app.errors import InvalidInput
from cial_app.text import NAME_MAX as NAME_MAX
from cial_app.text import check_name as check_name
from cial_app.text import has_control_characters

EMAIL_MAX = 254
PASSWORD_MIN = 8
PASSWORD_MAX = 128
# Deliberately loose: one '@' with something on both sides. Local mode accepts
# `owner@localhost`; nothing is mailed, so stricter parsing would only refuse real addresses.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def normalize_email(raw: str) -> str:
    return raw.strip().lower()


def check_email(raw: str) -> str:
    email = normalize_email(raw)
    if not email:
        raise InvalidInput("Email is required.", field="email")
    if len(email) > EMAIL_MAX or not _EMAIL.fullmatch(email) or has_control_characters(email):
        raise InvalidInput("Email must be an address like name@example.com.", field="email")
    return email


def check_new_password(password: str) -> str:
    if len(password) < PASSWORD_MIN:
        raise InvalidInput(f"Password must be at least {PASSWORD_MIN} characters.", field="password")
    if len(password) > PASSWORD_MAX:
        raise InvalidInput(f"Password must be at most {PASSWORD_MAX} characters.", field="password")
    return password


def check_credentials_present(email: str, password: str) -> str:
    """For sign-in: only presence is checked, so a malformed address gets the usual 401."""
    normalized = normalize_email(email)
    if not normalized:
        raise InvalidInput("Email is required.", field="email")
    if not password:
        raise InvalidInput("Password is required.", field="password")
    if len(normalized) > EMAIL_MAX or len(password) > PASSWORD_MAX:
        # Never hash unbounded input; no account can have such credentials anyway.
        raise InvalidInput("Email or password is too long.", field="password")
    if has_control_characters(normalized):
        # Such an address cannot belong to an account; saying so reveals nothing.
        raise InvalidInput("Email must be an address like name@example.com.", field="email")
    return normalized
