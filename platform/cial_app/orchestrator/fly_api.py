"""The Fly Machines API over one httpx client: pacing within Fly's rate limits, retries of what
is safe to resend, and Fly's answers turned into typed errors with a reason an admin can read.

Why a client of our own and not a generated one: the driver needs three things no generic client
gives — resend only idempotent calls (Fly's Go client resends a create on 502/503, and a resent
create is a duplicate machine), pace per action per machine, and reasons written for the admin.
Time is injected (`clock`, `sleep`) so tests of pacing and backoff run on a fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from .errors import EngineError, EngineUnavailable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

DEFAULT_API_URL = "https://api.machines.dev"
LEASE_HEADER = "fly-machine-lease-nonce"
# Fly's documented limits: 1 request/s per action per machine with bursts of 3, and 5/s for GETs.
# We pace a little under them (a burst one short, GETs at 4/s): requests taken apart in time can
# arrive together (concurrent tenants, network jitter), and the fake, which enforces Fly's own
# numbers on arrival, then answered 429 at exactly Fly's rates (bench/fly_calls.py, 10 tenants).
MUTATION_RATE, MUTATION_BURST = 1.0, 2.0
GET_RATE, GET_BURST = 4.0, 4.0
# Resends of an idempotent call after 429/502/503/504 or a dropped connection.
RETRIES = 5
RETRY_FIRST_DELAY, RETRY_MAX_DELAY = 0.25, 4.0
_RETRIED_STATUS = frozenset({429, 502, 503, 504})


class FlyApiError(EngineError):
    """Fly answered with an error. `status` lets the driver act on 404/408/409/412; anything it
    does not act on reaches the admin as the EngineError it is, with Fly's own words quoted."""

    def __init__(self, reason: str, *, status: int, fly_error: str) -> None:
        super().__init__(reason)
        self.status = status
        self.fly_error = fly_error


class FlyUnanswered(EngineUnavailable):
    """A call that must not be resent got no clear answer (dropped, 502/503/504): it may or may
    not have been applied. The caller finds out by looking (the create's ensure lookup)."""


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class Pacer:
    """Token buckets by key: a call waits (on the injected sleep) until its bucket has a token."""

    clock: Clock
    sleep: Sleep
    waited: float = 0.0  # total time spent pacing, for the bench
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    async def take(self, key: str, rate: float, burst: float) -> None:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(burst, self.clock())
        while True:
            now = self.clock()
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * rate)
            bucket.at = now
            # Within a hair of a token counts: float sums of tiny sleeps never reach 1.0 exactly.
            if bucket.tokens >= 1.0 - 1e-6:
                bucket.tokens = max(0.0, bucket.tokens - 1.0)
                return
            delay = max(0.001, (1.0 - bucket.tokens) / rate)
            self.waited += delay
            await self.sleep(delay)


class FlyApi:
    def __init__(
        self,
        *,
        url: str,
        token: str,
        timeout: float = 70.0,  # above Fly's longest wait (60 s), so a wait is never cut short here
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.pacer = Pacer(clock, sleep)
        self.sleep = sleep
        self.calls = 0  # requests sent, resends included (the bench prints calls per create)
        # One client per driver (so per process): connections to Fly are pooled. trust_env=False:
        # an HTTP(S)_PROXY in the environment must not see the token.
        self._client = httpx.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(
        self,
        method: str,
        path: str,
        doing: str,
        *,
        pace: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        nonce: str | None = None,
        idempotent: bool,
        expect: frozenset[int] = frozenset(),
    ) -> Any:
        """Fly's JSON answer (None for an empty one). `pace`: the bucket key, e.g. "start:<id>";
        GETs share one bucket. A status in `expect` comes back as a FlyApiError the caller handles
        (it is raised either way; `expect` only stops it being resent)."""
        headers = {LEASE_HEADER: nonce} if nonce else {}
        attempt = 0
        while True:
            attempt += 1
            if method == "GET":
                await self.pacer.take("GET", GET_RATE, GET_BURST)
            else:
                await self.pacer.take(pace, MUTATION_RATE, MUTATION_BURST)
            self.calls += 1
            try:
                response = await self._client.request(
                    method,
                    path,
                    json=dict(body) if body is not None else None,
                    params=params,
                    headers=headers,
                )
            except httpx.TransportError as exc:
                if not idempotent:
                    raise FlyUnanswered(
                        f"could not {doing}: the connection to Fly dropped ({type(exc).__name__}) "
                        "and the call may have been applied"
                    ) from exc
                if attempt > RETRIES:
                    raise EngineUnavailable(
                        f"could not {doing}: Fly's API at {self.url} is unreachable ({type(exc).__name__})"
                    ) from exc
                await self._back_off(attempt, None)
                continue
            if response.is_success:
                return _json(response)
            status = response.status_code
            if status in _RETRIED_STATUS and status not in expect:
                if not idempotent and status != 429:
                    # 429 is refused before anything is applied; 502/503/504 may be after.
                    raise FlyUnanswered(
                        f"could not {doing}: Fly answered HTTP {status} and the call may have been applied"
                    )
                if attempt <= RETRIES:
                    await self._back_off(attempt, response.headers.get("retry-after"))
                    continue
            raise _error(doing, response)

    async def _back_off(self, attempt: int, retry_after: str | None) -> None:
        delay = min(RETRY_MAX_DELAY, RETRY_FIRST_DELAY * 2 ** (attempt - 1))
        if retry_after is not None:
            with contextlib.suppress(ValueError):
                delay = max(delay, float(retry_after))
        await self.sleep(delay)


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _error(doing: str, response: httpx.Response) -> FlyApiError:
    data = _json(response)
    said = ""
    if isinstance(data, dict):
        said = str(data.get("error") or data.get("message") or "")
    said = said or response.text[:200].strip() or "no body"
    status = response.status_code
    if status in (401, 403):
        reason = f"could not {doing}: Fly refused the API token (check CIAL_FLY_TOKEN): {said}"
    elif status == 429:
        reason = f"could not {doing}: Fly's rate limit was hit and did not clear; try again shortly"
    elif status == 422:
        reason = f"could not {doing}: Fly refused the request as over a limit or invalid: {said}"
    else:
        reason = f"could not {doing}: Fly answered HTTP {status}: {said}"
    return FlyApiError(reason, status=status, fly_error=said)
