"""Host names as the App compares them: the Host header's name without its port, lower-cased.

Pure functions, shared by the settings (the allowed list) and the web layer (each request's Host).
"""

from __future__ import annotations

import ipaddress

# Where local mode reaches the App: the published port on loopback, by name or address.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


def host_name(value: str) -> str | None:
    """The name in a Host header (`localhost:3100`, `[::1]:3100`, `App-Api`): lower-cased, any
    port and one trailing dot removed, an IPv6 address in brackets. None when it is malformed."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        rest = value[end + 1 :]
        try:
            # One spelling per address: [0:0::1] is [::1].
            name = f"[{ipaddress.IPv6Address(value[1:end]).compressed}]"
        except ValueError:
            return None
    else:
        name, colon, port = value.partition(":")
        rest = colon + port
    if rest and not (rest.startswith(":") and rest[1:].isdigit() and rest[1:].isascii()):
        return None
    name = name.removesuffix(".")
    if not name or any(c.isspace() or c in "/\\@?#" for c in name):
        return None
    return name


def allowed_host_entry(entry: str) -> str | None:
    """One entry of the allowed-hosts setting as `host_name` gives it (a bare `::1` gets its
    brackets); None when it is not a host name, or names a port (every port is allowed)."""
    entry = entry.strip().lower()
    if entry.startswith("[") and entry.endswith("]"):
        entry = entry[1:-1]
    try:
        return f"[{ipaddress.IPv6Address(entry).compressed}]"
    except ValueError:
        pass
    entry = entry.removesuffix(".")
    # host_name drops a port: an entry it changes had one (or is malformed).
    return entry if host_name(entry) == entry else None
