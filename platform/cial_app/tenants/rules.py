"""What a valid tenant looks like. Each broken rule is reported on its own, by name."""

from __future__ import annotations

import re

from cial_app.errors import InvalidInput
from cial_app.text import NAME_MAX as NAME_MAX
from cial_app.text import check_name as check_name

SLUG_PATTERN = r"^[a-z0-9-]{2,40}$"
SLUG_MIN = 2
SLUG_MAX = 40

# Names a tenant's host `{slug}.localhost` must not take: the platform's own hosts and
# services, and names users would mistake for the platform.
RESERVED_SLUGS = frozenset(
    {
        "www", "admin", "api", "app", "apps", "auth", "login", "logout", "signup", "signin",
        "account", "accounts", "billing", "dashboard", "console", "status", "health", "metrics",
        "static", "assets", "cdn", "media", "files", "docs", "help", "support", "blog",
        "mail", "email", "smtp", "imap", "pop", "ftp", "ns1", "ns2", "dns", "mx",
        "root", "system", "internal", "localhost", "router", "proxy", "edge", "gateway",
        "cial", "platform", "core", "sso", "oauth",
    }
)  # fmt: skip

_ALLOWED = re.compile(r"[a-z0-9-]+")


def check_slug(slug: str) -> str:
    if not slug:
        raise InvalidInput("Slug is required.", field="slug")
    if not SLUG_MIN <= len(slug) <= SLUG_MAX:
        raise InvalidInput(
            f"Slug must be {SLUG_MIN} to {SLUG_MAX} characters long (pattern {SLUG_PATTERN}).", field="slug"
        )
    if not _ALLOWED.fullmatch(slug):
        raise InvalidInput(
            f"Slug may only contain lowercase letters a-z, digits 0-9 and '-' (pattern {SLUG_PATTERN}).",
            field="slug",
        )
    if slug.startswith("-") or slug.endswith("-"):
        raise InvalidInput("Slug may not start or end with '-'.", field="slug")
    if slug[2:4] == "--":
        # DNS reserves such labels for encoded international names (RFC 5891, "xn--").
        raise InvalidInput("Slug may not have '--' as its third and fourth characters.", field="slug")
    if slug in RESERVED_SLUGS:
        raise InvalidInput(f"Slug '{slug}' is reserved; choose another.", field="slug")
    return slug


def could_be_slug(value: str) -> bool:
    """Cheap pre-check before a lookup: what fails it names no tenant."""
    return SLUG_MIN <= len(value) <= SLUG_MAX and _ALLOWED.fullmatch(value) is not None
