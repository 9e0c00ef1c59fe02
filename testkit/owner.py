"""The owner's side of the App's HTTP API: sign up, sign in, tenants.

One definition of each call serves both trees: given an `httpx.Client` (the specs, against a
running App) it answers at once; given an `httpx.AsyncClient` (the fast tests, the App in-process)
it returns an awaitable. Unexpected statuses fail with the response's text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, overload

import httpx

from testkit.polling import eventually

OWNER_PASSWORD = "correct horse battery staple"
SIGN_UP = "/api/auth/sign-up/email"
SIGN_IN = "/api/auth/sign-in/email"
TENANTS = "/api/admin/tenants"
# The App's header for the setup token of the first sign-up (cial_app.auth.controllers).
SETUP_TOKEN_HEADER = "X-Cial-Setup-Token"

Json = dict[str, Any]
R = TypeVar("R")


@dataclass(frozen=True)
class Owner:
    name: str
    email: str
    password: str = OWNER_PASSWORD

    @classmethod
    def of(cls, fields: Mapping[str, str]) -> Owner:
        return cls(name=fields["name"], email=fields["email"], password=fields["password"])

    @property
    def sign_up_body(self) -> dict[str, str]:
        return {"name": self.name, "email": self.email, "password": self.password}


def _call(
    client: httpx.Client | httpx.AsyncClient,
    parse: Callable[[httpx.Response], R],
    method: str,
    path: str,
    **options: Any,
) -> R | Awaitable[R]:
    if isinstance(client, httpx.AsyncClient):

        async def later() -> R:
            # `client` is the AsyncClient here (ruff cannot see the isinstance through the closure).
            return parse(await client.request(method, path, **options))  # noqa: ASYNC212

        return later()
    return parse(client.request(method, path, **options))


def _as_is(response: httpx.Response) -> httpx.Response:
    return response


def _json(status: int) -> Callable[[httpx.Response], Any]:
    def parse(response: httpx.Response) -> Any:
        url, code = response.request.url, response.status_code
        assert code == status, f"{url}: {code} {response.text}"
        return response.json()

    return parse


def _history(response: httpx.Response) -> list[tuple[str | None, str]]:
    events = _json(200)(response)
    return [(e["from_state"], e["to_state"]) for e in reversed(events)]


def _reasons(response: httpx.Response) -> list[str]:
    return [e["reason"] for e in reversed(_json(200)(response))]


# ------------------------------------------------------------------------------------- auth


@overload
def sign_up(client: httpx.Client, owner: Owner, setup_token: str | None = ...) -> httpx.Response: ...
@overload
def sign_up(
    client: httpx.AsyncClient, owner: Owner, setup_token: str | None = ...
) -> Awaitable[httpx.Response]: ...
def sign_up(
    client: httpx.Client | httpx.AsyncClient, owner: Owner, setup_token: str | None = None
) -> httpx.Response | Awaitable[httpx.Response]:
    """POST the sign-up form's JSON; the response as it is (403 once an owner exists).

    `setup_token`: the App's CIAL_SETUP_TOKEN, which a first sign-up needs unless it comes from the
    App's own machine (a compose stack's App sees the host as Docker's gateway, not loopback)."""
    headers = {SETUP_TOKEN_HEADER: setup_token} if setup_token else {}
    return _call(client, _as_is, "POST", SIGN_UP, json=owner.sign_up_body, headers=headers)


@overload
def sign_in(client: httpx.Client, email: str, password: str, **headers: str) -> httpx.Response: ...
@overload
def sign_in(
    client: httpx.AsyncClient, email: str, password: str, **headers: str
) -> Awaitable[httpx.Response]: ...
def sign_in(
    client: httpx.Client | httpx.AsyncClient, email: str, password: str, **headers: str
) -> httpx.Response | Awaitable[httpx.Response]:
    """POST email and password; the response as it is (the session cookie lands in `client`)."""
    credentials = {"email": email, "password": password}
    return _call(client, _as_is, "POST", SIGN_IN, json=credentials, headers=headers)


def signed_in(
    base_url: str, owner: Owner, *, setup_token: str | None = None, timeout: float = 30
) -> httpx.Client:
    """A client of a running App holding `owner`'s session (signing the owner up first if needed,
    with `setup_token` when the App is not on this machine's loopback)."""
    client = httpx.Client(base_url=base_url, timeout=timeout)
    try:
        response = sign_in(client, owner.email, owner.password)
        if response.status_code == 401 and sign_up(client, owner, setup_token).status_code == 200:
            response = sign_in(client, owner.email, owner.password)
        assert response.status_code == 200, f"{owner.email} cannot sign in: {response.text}"
    except BaseException:
        client.close()
        raise
    return client


# ---------------------------------------------------------------------------------- tenants


@overload
def create(client: httpx.Client, slug: str, name: str = ...) -> Json: ...
@overload
def create(client: httpx.AsyncClient, slug: str, name: str = ...) -> Awaitable[Json]: ...
def create(
    client: httpx.Client | httpx.AsyncClient, slug: str, name: str = "Acme Inc."
) -> Json | Awaitable[Json]:
    """Create a tenant (201 expected); its JSON."""
    return _call(client, _json(201), "POST", TENANTS, json={"slug": slug, "name": name})


@overload
def tenant(client: httpx.Client, slug: str) -> Json: ...
@overload
def tenant(client: httpx.AsyncClient, slug: str) -> Awaitable[Json]: ...
def tenant(client: httpx.Client | httpx.AsyncClient, slug: str) -> Json | Awaitable[Json]:
    """The tenant's JSON (200 expected)."""
    return _call(client, _json(200), "GET", f"{TENANTS}/{slug}")


@overload
def history(client: httpx.Client, slug: str) -> list[tuple[str | None, str]]: ...
@overload
def history(client: httpx.AsyncClient, slug: str) -> Awaitable[list[tuple[str | None, str]]]: ...
def history(
    client: httpx.Client | httpx.AsyncClient, slug: str
) -> list[tuple[str | None, str]] | Awaitable[list[tuple[str | None, str]]]:
    """The tenant's state changes (from, to), oldest first."""
    return _call(client, _history, "GET", f"{TENANTS}/{slug}/events")


@overload
def reasons(client: httpx.Client, slug: str) -> list[str]: ...
@overload
def reasons(client: httpx.AsyncClient, slug: str) -> Awaitable[list[str]]: ...
def reasons(client: httpx.Client | httpx.AsyncClient, slug: str) -> list[str] | Awaitable[list[str]]:
    """The reasons of the tenant's state changes, oldest first."""
    return _call(client, _reasons, "GET", f"{TENANTS}/{slug}/events")


@overload
def act(client: httpx.Client, slug: str, verb: str) -> httpx.Response: ...
@overload
def act(client: httpx.AsyncClient, slug: str, verb: str) -> Awaitable[httpx.Response]: ...
def act(
    client: httpx.Client | httpx.AsyncClient, slug: str, verb: str
) -> httpx.Response | Awaitable[httpx.Response]:
    """POST an owner action (start, stop, restart); the response as it is."""
    return _call(client, _as_is, "POST", f"{TENANTS}/{slug}/{verb}")


def in_state(client: httpx.Client, slug: str, state: str, *, within: float = 90) -> Json:
    """Poll the tenant until it is in `state`; its JSON. A tenant in `error` counts as "not yet"
    (the App retries from it) and is what the failure shows if it stays there."""

    def check() -> Json | None:
        body = tenant(client, slug)
        assert body["state"] != "error", body
        return body if body["state"] == state else None

    return eventually(check, timeout=within, what=f"{slug} to be {state}")
