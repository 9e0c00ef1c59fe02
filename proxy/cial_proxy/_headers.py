"""Which headers cross the proxy, and the forwarding headers it adds on the way in."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from ._types import RawHeaders

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
# The engine frames every message it writes itself (RFC 9112 §6): a Content-Length passes through
# with the bytes it counts, anything else is re-framed.
_FRAMING = (b"content-length",)
_FORWARDED = frozenset({b"x-forwarded-for", b"x-forwarded-host", b"x-forwarded-proto"})
# Other ways a client could claim an address; a proxy that sets X-Forwarded-* itself drops them so
# an upstream cannot be fooled by whichever one it happens to read.
_CLIENT_CLAIMS = frozenset({b"forwarded", b"x-real-ip"})
# Never copied from the client as they are: Host and the forwarding headers are rewritten, the
# framing is the engine's own.
_ALWAYS_OUT = _HOP_BY_HOP | _FORWARDED | {b"host", *_FRAMING}


def end_to_end(headers: Iterable[tuple[bytes, bytes]], *, drop: Iterable[bytes] = ()) -> RawHeaders:
    """The headers meant for the far end: hop-by-hop ones and those named in Connection removed.

    Names must already be lower case (the engine's parsers lower them as they read).
    """
    headers = list(headers)
    named = {
        token.strip().lower()
        for name, value in headers
        if name == b"connection"
        for token in value.split(b",")
    }
    excluded = _HOP_BY_HOP | named | set(drop)
    return [(name, value) for name, value in headers if name not in excluded]


def host_of(headers: Iterable[tuple[bytes, bytes]]) -> tuple[bytes, str]:
    """The Host header as sent, and the bare host name a resolver matches on (no port, lower case)."""
    raw = next((value for name, value in headers if name == b"host"), b"")
    host = raw.decode("latin-1").strip().lower()
    if host.startswith("["):  # IPv6 literal: the port follows the closing bracket
        return raw, host[: host.find("]") + 1]
    return raw, host.partition(":")[0]


def without_cookies(value: bytes, names: Collection[bytes]) -> bytes:
    """A Cookie header value (RFC 6265 §5.4: ``a=1; b=2``) minus the cookies called ``names``."""
    kept = [pair for pair in (part.strip() for part in value.split(b";")) if pair]
    return b"; ".join(pair for pair in kept if pair.partition(b"=")[0].strip() not in names)


def cookie_value(value: bytes, name: bytes) -> bytes | None:
    """The value of the first cookie called ``name`` in a Cookie header value, or None.

    The first, because a user agent lists cookies with longer paths first (RFC 6265 §5.4): a
    cookie that script set for a narrower path comes before the server's own, so a caller that
    trusts the value must still verify it (the edge looks it up as a session id).
    """
    for part in value.split(b";"):
        key, separator, found = part.partition(b"=")
        if separator and key.strip() == name:
            return found.strip()
    return None


def upstream_request_headers(
    headers: RawHeaders,
    *,
    client_ip: str | None,
    scheme: str,
    trust_forwarded: bool,
    strip_cookies: Collection[bytes] = (),
    drop: Iterable[bytes] = (),
) -> RawHeaders:
    """The client's headers as the upstream should see them, with X-Forwarded-* set.

    Host is left out on purpose: the engine writes the upstream's own address as Host and the
    original goes in X-Forwarded-Host. With ``trust_forwarded`` (a proxy behind another proxy that
    always sets them, as the edge behind the router) the X-Forwarded-Host/-Proto it received are
    kept and the client address is appended to X-Forwarded-For; without it (the proxy facing
    clients) all three are the proxy's own, whatever the client sent, and Forwarded and X-Real-IP
    from the client are dropped. One pass over the headers: this runs for every request.
    """
    excluded = _ALWAYS_OUT | _CLIENT_CLAIMS if not trust_forwarded else _ALWAYS_OUT
    named = [value for name, value in headers if name == b"connection"]
    if named:
        excluded = excluded | {token.strip().lower() for value in named for token in value.split(b",")}
    if drop:
        excluded = excluded | set(drop)
    out: RawHeaders = []
    original_host = b""
    prior_for: list[bytes] = []
    kept: dict[bytes, bytes] = {}
    for name, value in headers:
        if name in excluded:
            if name == b"host":
                original_host = value
            elif name == b"x-forwarded-for":
                prior_for.append(value)
            elif name in _FORWARDED:
                kept[name] = value
            continue
        if name == b"cookie" and strip_cookies:
            value = without_cookies(value, strip_cookies)
            if not value:
                continue
        out.append((name, value))

    ip = client_ip.encode("latin-1") if client_ip else b""
    if trust_forwarded and prior_for:
        prior = b", ".join(prior_for)
        out.append((b"x-forwarded-for", prior + b", " + ip if ip else prior))
    elif ip:
        out.append((b"x-forwarded-for", ip))
    host = kept.get(b"x-forwarded-host", original_host) if trust_forwarded else original_host
    if host:
        out.append((b"x-forwarded-host", host))
    proto = kept.get(b"x-forwarded-proto") if trust_forwarded else None
    out.append((b"x-forwarded-proto", proto or scheme.encode()))
    return out
