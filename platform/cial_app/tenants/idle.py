"""How long a tenant may go unused before the router stops it: one rule for the setting, the API
and the admin form, so all three refuse the same input with the same words.

Seconds in storage and in the API (a spec or a bench can ask for a few); minutes for people.
None means never: the tenant is only ever stopped by its owner.
"""

from __future__ import annotations

from cial_app.errors import InvalidInput

DEFAULT_IDLE_MINUTES = 15
# The bounds: a second (tests, benches) to a week; beyond a week, choose "never".
IDLE_MIN_SECONDS = 1
IDLE_MAX_SECONDS = 7 * 24 * 3600
NEVER = "never"

# What the admin's form offers, in minutes (None: never).
ADMIN_CHOICES: tuple[int | None, ...] = (5, 15, 30, 60, 240, 1440, None)


def check_idle_after(seconds: int | None) -> int | None:
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not IDLE_MIN_SECONDS <= seconds <= IDLE_MAX_SECONDS:
        raise InvalidInput(
            f"Idle time must be between {IDLE_MIN_SECONDS} second and {IDLE_MAX_SECONDS} seconds "
            "(a week), or null for never.",
            field="idle_after_seconds",
        )
    return seconds


def parse_minutes(value: str) -> int | None:
    """A setting or a form field in minutes ("15"), or "never" (also "0" or empty) -> seconds."""
    text = value.strip().lower()
    if text in ("", NEVER, "0"):
        return None
    try:
        minutes = float(text)
    except ValueError:
        raise InvalidInput(
            f"Idle time must be a number of minutes or '{NEVER}', got {value.strip()!r}.",
            field="idle_after_seconds",
        ) from None
    return check_idle_after(round(minutes * 60))


def describe(seconds: int | None) -> str:
    """For people: "15 min", "45 s", "never"."""
    if seconds is None:
        return NEVER
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes // 60} h" if minutes % 60 == 0 and minutes >= 60 else f"{minutes} min"
    return f"{seconds} s"
