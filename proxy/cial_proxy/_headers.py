"""Which headers cross the proxy, and the forwarding headers it adds on the way in."""

from __future__ import annotations

from collections.abc import Iterable

from ._types import RawHeaders, Scope

# RFC 9110 §7.6.1: these describe one connection, not the message, so no proxy passes them on.
# Proxy-Connection is not standard but old clients still send it with the same meaning.
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
_FORWARDED = (b"x-forwarded-for", b"x-forwarded-host", b"x-forwarded-proto")


def end_to_end(headers: Iterable[tuple[bytes, bytes]], *, drop: Iterable[bytes] = ()) -> RawHeaders:
    """The headers meant for the far end: hop-by-hop ones and those named in Connection removed."""
    lowered = [(name.lower(), value) for name, value in headers]
    named = {
        token.strip().lower()
        for name, value in lowered
        if name == b"connection"
        for token in value.split(b",")
    }
    excluded = _HOP_BY_HOP | named | set(drop)
    return [(name, value) for name, value in lowered if name not in excluded]


def host_of(scope: Scope) -> tuple[bytes, str]:
    """The Host header as sent, and the bare host name a resolver matches on (no port, lower case)."""
    raw = next((value for name, value in scope["headers"] if name == b"host"), b"")
    host = raw.decode("latin-1").strip().lower()
    if host.startswith("["):  # IPv6 literal: the port follows the closing bracket
        return raw, host[: host.find("]") + 1]
    return raw, host.partition(":")[0]


def upstream_request_headers(
    scope: Scope, *, trust_forwarded: bool, drop: Iterable[bytes] = ()
) -> RawHeaders:
    """The client's headers as the upstream should see them, with X-Forwarded-* set.

    Host is left out on purpose: the upstream gets its own address as Host (the HTTP client fills it
    in) and the original goes in X-Forwarded-Host. With ``trust_forwarded`` an X-Forwarded-Host or
    -Proto that an earlier proxy set is kept, so a chain (router -> edge) reports the public values.
    """
    headers = end_to_end(scope["headers"], drop=(b"host", *drop))
    incoming = {name: value for name, value in headers if name in _FORWARDED}
    prior_for = b", ".join(value for name, value in headers if name == b"x-forwarded-for")
    headers = [(name, value) for name, value in headers if name not in _FORWARDED]

    client = scope.get("client")
    if client:
        ip = client[0].encode("latin-1")
        headers.append((b"x-forwarded-for", prior_for + b", " + ip if prior_for else ip))
    elif prior_for:
        headers.append((b"x-forwarded-for", prior_for))

    original_host, _ = host_of(scope)
    scheme: str = scope["scheme"]
    proto = {"ws": "http", "wss": "https"}.get(scheme, scheme).encode("ascii")
    for name, own in ((b"x-forwarded-host", original_host), (b"x-forwarded-proto", proto)):
        value = incoming[name] if trust_forwarded and name in incoming else own
        if value:
            headers.append((name, value))
    return headers
