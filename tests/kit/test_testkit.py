"""The shared test helpers (testkit/) keep their promises."""

from __future__ import annotations

import asyncio
import itertools
import socket

import pytest

from testkit.aio import run_async
from testkit.polling import GiveUp, NeverHappened, eventually, eventually_async
from testkit.ports import closed_port, listening_socket, port_of


class TestEventually:
    def test_returns_the_first_truthy_answer_and_counts_errors_as_not_yet(self) -> None:
        calls = itertools.count()

        def probe() -> int | None:
            n = next(calls)
            if n == 0:
                raise ConnectionRefusedError("still starting")
            return n if n >= 2 else None

        assert eventually(probe, timeout=5, interval=0.001, what="the third call") == 2

    def test_on_timeout_it_names_what_was_awaited_and_the_last_error(self) -> None:
        def probe() -> bool:
            raise AssertionError("state is provisioning")

        with pytest.raises(NeverHappened, match=r"waiting for acme to run \(last: AssertionError\('state"):
            eventually(probe, timeout=0.05, interval=0.01, what="acme to run")

    def test_give_up_ends_the_wait_at_once(self) -> None:
        def probe() -> bool:
            raise GiveUp("went to error")

        with pytest.raises(GiveUp, match="went to error"):
            eventually(probe, timeout=60, what="never")

    async def test_the_async_variant_reports_the_last_value(self) -> None:
        async def probe() -> int:
            await asyncio.sleep(0)
            return 0

        with pytest.raises(AssertionError, match=r"waiting for a count \(last: 0\)"):
            await eventually_async(probe, timeout=0.05, interval=0.01, what="a count")


class TestPorts:
    def test_a_closed_port_refuses_and_stays_taken(self) -> None:
        with closed_port() as port:
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=2)
            with socket.socket() as other, pytest.raises(OSError):
                other.bind(("127.0.0.1", port))

    def test_a_listening_socket_accepts_on_the_port_it_reports(self) -> None:
        with listening_socket() as server:
            address = ("127.0.0.1", port_of(server))
            socket.create_connection(address, timeout=2).close()
            accepted, _ = server.accept()
            accepted.close()


class TestRunAsync:
    def test_runs_a_coroutine_even_where_a_loop_is_already_running(self) -> None:
        async def answer() -> int:
            await asyncio.sleep(0)
            return 42

        async def inside_a_running_loop() -> int:
            # What Playwright's sync API leaves behind in a spec's thread.
            return run_async(answer)

        assert asyncio.run(inside_a_running_loop()) == 42

    def test_its_exception_reaches_the_caller(self) -> None:
        async def fail() -> None:
            raise LookupError("nothing here")

        with pytest.raises(LookupError, match="nothing here"):
            run_async(fail)
