"""The router's half of idle tenants, on the real proxy engine and real sockets: a fake App (the
TenantControl the router calls) that starts and stops a real upstream, and an injectable clock
for the idle times. What a client sees is what is asserted: statuses, and what reached the
tenant."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import pytest
from cial_app.router.activity import Activity, Observers
from cial_app.router.app_calls import Refused, Unreachable
from cial_app.router.idle import IdleKeeper
from cial_app.router.metrics import RouterMetrics
from cial_app.router.table import RouteTable, TenantRoute
from cial_app.router.waking import HEALTH_PATH, IdleResolver, WakeLimits, Waker
from cial_proxy import create_proxy
from websockets.asyncio.client import connect

from testkit.polling import eventually_async
from testkit.servers import Receive, Scope, Send, running, upstream_config

SLUG = "acme"
HOST = {"Host": f"{SLUG}.localhost"}
DEADLINE = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Machine:
    """The tenant's edge: answers only once `ready` (its health path says so), and records every
    request that reached it before that."""

    ready: bool = False
    early: int = 0
    served: int = 0
    slow: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            while (message := await receive())["type"] != "websocket.disconnect":
                if message.get("text") is not None:
                    await send({"type": "websocket.send", "text": message["text"]})
            return
        path = scope["path"]
        if path == HEALTH_PATH:
            status = 200 if self.ready else 503
        else:
            if not self.ready:
                self.early += 1
            self.served += 1
            status = 200 if self.ready else 502
            if path == "/slow":
                await self.slow.wait()
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


class FakeApp:
    """The App as the router sees it. A naive one: it says `running` as soon as the "container"
    runs, before the tenant answers, so the router's own readiness check is what is tested."""

    def __init__(self, table: RouteTable, machine: Machine, port: int) -> None:
        self.table, self.machine, self.port = table, machine, port
        self.wakes = self.idles = 0
        self.boot = 0.05  # wake -> "container running"
        self.ready_after = 0.0  # "container running" -> the tenant answers
        self.fail_start = False
        self.fail_at_once = False  # the failure is in the table before the wake call returns
        self.never_ready = False
        self.booting = asyncio.Event()
        self.booting.set()  # cleared: boots wait until it is set
        self.stop_done = asyncio.Event()
        self.stop_done.set()
        self._tasks: set[asyncio.Task[None]] = set()

    def route(self, state: str, *, serving: bool = False, idle_after: int | None = 10) -> TenantRoute:
        host, port = ("127.0.0.1", self.port) if serving else (None, None)
        return TenantRoute(SLUG, state, host, port, idle_after)

    async def wake(self, slug: str) -> None:
        # Like the App: a wake waits for a stop's engine call to finish.
        await self.stop_done.wait()
        self.wakes += 1
        current = self.table.get(slug)
        if current is not None and current.serving:
            return
        self.table.put(self.route("starting"))
        if self.fail_at_once:
            self.table.put(self.route("error"))
            return
        task = asyncio.create_task(self._boot())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _boot(self) -> None:
        await self.booting.wait()
        await asyncio.sleep(self.boot)
        if self.fail_start:
            self.table.put(self.route("error"))
            return
        self.table.put(self.route("running", serving=True))
        if not self.never_ready:
            await asyncio.sleep(self.ready_after)
            self.machine.ready = True

    async def idle(self, slug: str) -> bool:
        self.idles += 1
        self.table.put(self.route("idling"))
        await self.stop_done.wait()
        self.machine.ready = False
        self.table.put(self.route("idle"))
        return True

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()


@dataclass
class Router:
    table: RouteTable
    app: FakeApp
    machine: Machine
    clock: Clock
    activity: Activity
    waker: Waker
    keeper: IdleKeeper
    client: httpx.AsyncClient

    async def get(self, path: str = "/") -> httpx.Response:
        return await self.client.get(path, headers=HOST)

    def ws_url(self, path: str = "/ws") -> str:
        return f"ws://{SLUG}.localhost:{self.client.base_url.port}{path}"


@pytest.fixture
def limits() -> WakeLimits:
    return WakeLimits(timeout=5.0, probe_interval=0.02)


@pytest.fixture
async def router(limits: WakeLimits) -> AsyncIterator[Router]:
    machine = Machine()
    async with running(upstream_config(machine)) as [machine_port]:
        table = RouteTable()
        table.replace_all([])
        app = FakeApp(table, machine, machine_port)
        clock = Clock()
        activity = Activity(clock)
        waker = Waker(table, app, activity, limits=limits)
        keeper = IdleKeeper(table, activity, app, drain_grace=0)
        proxy = create_proxy(IdleResolver(table, waker), name="router", observer=Observers(activity))
        async with proxy.running(port=0) as port:
            limits_ = httpx.Limits(max_connections=200)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", timeout=DEADLINE, limits=limits_
            ) as client:
                yield Router(table, app, machine, clock, activity, waker, keeper, client)
            await keeper.aclose()
            await waker.aclose()
            await app.aclose()


def asleep(router: Router) -> None:
    router.table.put(router.app.route("idle"))


def awake(router: Router) -> None:
    """Running and answering, and seen by the keeper (its idle time counts from here)."""
    router.machine.ready = True
    router.table.put(router.app.route("running", serving=True))
    assert router.keeper.sweep() == []


class TestWaking:
    async def test_fifty_concurrent_requests_start_it_once_and_each_gets_200_none_before_ready(
        self, router: Router
    ) -> None:
        asleep(router)
        router.app.ready_after = 0.3
        answers = await asyncio.gather(*(router.get(f"/page/{i}") for i in range(50)))
        assert [a.status_code for a in answers] == [200] * 50
        assert router.app.wakes == 1
        assert router.machine.early == 0
        assert router.machine.served == 50

    async def test_a_tenant_that_fails_its_readiness_for_2_s_after_start_shows_no_client_a_502(
        self, router: Router
    ) -> None:
        asleep(router)
        router.app.ready_after = 2.0
        answers = await asyncio.gather(*(router.get() for _ in range(10)))
        assert [a.status_code for a in answers] == [200] * 10
        assert router.machine.early == 0

    @pytest.mark.parametrize("limits", [WakeLimits(timeout=0.5, probe_interval=0.02)])
    async def test_never_ready_every_waiter_gets_504_after_one_start_and_the_next_request_retries(
        self, router: Router
    ) -> None:
        asleep(router)
        router.app.never_ready = True
        answers = await asyncio.gather(*(router.get() for _ in range(5)))
        assert [a.status_code for a in answers] == [504] * 5
        assert "did not start within 0.5 s" in answers[0].text
        assert router.app.wakes == 1
        assert router.machine.early == 0
        router.app.never_ready = False
        router.machine.ready = True
        assert (await router.get()).status_code == 200
        assert router.app.wakes == 2

    @pytest.mark.parametrize(
        "limits", [WakeLimits(timeout=5.0, max_waiting_per_tenant=3, probe_interval=0.02)]
    )
    async def test_one_waiter_over_the_cap_gets_503_with_retry_after(self, router: Router) -> None:
        asleep(router)
        router.app.booting.clear()
        waiting = [asyncio.create_task(router.get()) for _ in range(3)]
        await until(lambda: router.waker.waiting_for(SLUG) == 3)
        over = await router.get()
        assert over.status_code == 503
        assert over.headers["retry-after"] == "5"
        router.app.booting.set()
        assert [(await w).status_code for w in waiting] == [200] * 3
        assert router.app.wakes == 1

    async def test_the_first_waiter_leaving_does_not_cancel_the_start(self, router: Router) -> None:
        asleep(router)
        router.app.booting.clear()
        first = asyncio.create_task(router.get())
        await until(lambda: router.waker.waiting_for(SLUG) == 1)
        first.cancel()  # the client goes away
        await until(lambda: router.waker.waiting_for(SLUG) == 0)
        second = asyncio.create_task(router.get())
        await until(lambda: router.waker.waiting_for(SLUG) == 1)
        router.app.booting.set()
        assert (await second).status_code == 200
        assert router.app.wakes == 1

    async def test_a_failed_start_answers_502_at_once_and_the_next_request_tries_again(
        self, router: Router
    ) -> None:
        asleep(router)
        router.app.fail_start = True
        failed = await router.get()
        assert failed.status_code == 502
        assert "could not be started" in failed.text
        router.app.fail_start = False
        assert (await router.get()).status_code == 200
        assert router.app.wakes == 2

    async def test_a_failure_heard_before_the_apps_answer_is_502_and_the_next_request_still_retries(
        self, router: Router
    ) -> None:
        asleep(router)
        router.app.fail_at_once = True
        async with asyncio.timeout(2):  # at once, not at the wake's deadline
            assert (await router.get()).status_code == 502
        router.app.fail_at_once = False
        assert (await router.get()).status_code == 200
        assert router.app.wakes == 2
        assert router.waker.outcomes == {"failed": 1, "ready": 1}

    async def test_a_tenant_stopped_by_its_owner_is_not_woken(self, router: Router) -> None:
        router.table.put(router.app.route("stopped"))
        answer = await router.get()
        assert answer.status_code == 503
        assert router.app.wakes == 0

    async def test_an_app_that_refuses_or_cannot_be_reached_gives_a_clear_answer(
        self, router: Router
    ) -> None:
        asleep(router)

        async def refuse(slug: str) -> None:
            raise Refused("is stopped by its owner; they can start it from the admin", status=409)

        async def unreachable(slug: str) -> None:
            raise Unreachable("the App did not answer (ConnectError)")

        router.app.wake = refuse  # type: ignore[method-assign]
        refused = await router.get()
        assert (refused.status_code, refused.headers["retry-after"]) == (503, "5")
        assert "stopped by its owner" in refused.text
        router.app.wake = unreachable  # type: ignore[method-assign]
        assert (await router.get()).status_code == 502


class TestIdleStop:
    async def test_a_tenant_unused_for_its_idle_time_is_stopped_and_the_next_request_wakes_it(
        self, router: Router
    ) -> None:
        awake(router)
        assert (await router.get()).status_code == 200
        router.clock.advance(9)
        assert router.keeper.sweep() == []
        router.clock.advance(2)
        assert router.keeper.sweep() == [SLUG]
        await router.keeper.settle()
        assert router.app.idles == 1
        assert router.table.get(SLUG) == router.app.route("idle")
        assert (await router.get()).status_code == 200
        assert router.app.wakes == 1

    async def test_never_means_never(self, router: Router) -> None:
        router.machine.ready = True
        router.table.put(router.app.route("running", serving=True, idle_after=None))
        router.clock.advance(10**7)
        assert router.keeper.sweep() == []

    async def test_a_silent_websocket_keeps_it_up_past_three_idle_times_and_closing_it_lets_it_stop(
        self, router: Router
    ) -> None:
        awake(router)
        async with connect(router.ws_url(), host="127.0.0.1", port=router.client.base_url.port) as ws:
            for _ in range(3):
                router.clock.advance(10)
                assert router.keeper.sweep() == []
            await ws.send("still here")
            assert await ws.recv() == "still here"
        await until(lambda: not router.activity.busy(SLUG))
        router.clock.advance(10)
        assert router.keeper.sweep() == [SLUG]
        await router.keeper.settle()
        assert router.app.idles == 1

    async def test_a_request_longer_than_the_idle_time_is_never_cut(self, router: Router) -> None:
        awake(router)
        slow = asyncio.create_task(router.get("/slow"))
        await until(lambda: router.activity.busy(SLUG))
        router.clock.advance(60)
        assert router.keeper.sweep() == []
        router.machine.slow.set()
        assert (await slow).status_code == 200
        assert router.app.idles == 0

    async def test_a_request_during_the_drain_cancels_the_stop(self, router: Router) -> None:
        awake(router)
        keeper = IdleKeeper(router.table, router.activity, router.app, drain_grace=0.3)
        assert keeper.sweep() == []
        router.clock.advance(11)
        assert keeper.sweep() == [SLUG]
        assert (await router.get()).status_code == 200
        await keeper.settle()
        assert router.app.idles == 0
        assert router.table.get(SLUG) == router.app.route("running", serving=True)

    async def test_a_request_racing_the_stop_gets_one_stop_one_start_and_no_error(
        self, router: Router
    ) -> None:
        awake(router)
        router.app.stop_done.clear()  # the stop's engine call takes a while
        router.clock.advance(11)
        router.keeper.sweep()
        await until(lambda: router.app.idles == 1)
        racing = asyncio.create_task(router.get())
        await until(lambda: router.waker.waiting_for(SLUG) == 1)
        router.app.stop_done.set()
        assert (await racing).status_code == 200
        await router.keeper.settle()
        assert (router.app.idles, router.app.wakes) == (1, 1)

    async def test_a_router_restart_stops_nothing_by_itself(self, router: Router) -> None:
        awake(router)
        router.clock.advance(3600)  # long idle before the restart, which forgets it
        fresh = Activity(router.clock)
        keeper = IdleKeeper(router.table, fresh, router.app, drain_grace=0)
        assert keeper.sweep() == []
        router.clock.advance(11)
        assert keeper.sweep() == [SLUG]
        await keeper.settle()


async def until(condition: Callable[[], bool]) -> None:
    async def check() -> bool | None:
        return condition() or None

    await eventually_async(check, timeout=DEADLINE, interval=0.005, what="the condition")


class TestBookkeeping:
    async def test_a_deleted_tenant_is_forgotten(self, router: Router) -> None:
        awake(router)
        assert SLUG in router.activity.known()
        router.table.remove(SLUG)
        assert SLUG not in router.activity.known()

    async def test_the_metrics_count_wakes_idle_stops_and_held_requests(self, router: Router) -> None:
        metrics = RouterMetrics()
        metrics.watch_idle(router.waker, router.keeper)
        awake(router)
        router.clock.advance(11)
        router.keeper.sweep()
        await router.keeper.settle()
        assert (await router.get()).status_code == 200
        text = metrics.exposition().decode()
        assert 'cial_router_wakes_total{outcome="ready"} 1.0' in text
        assert "cial_router_idle_stops_total 1.0" in text
        assert "cial_router_requests_held 0.0" in text
