"""The background work on tenants: at most one task per tenant, all of them tracked, so that no
tenant is ever provisioned twice at once and shutdown can cancel every one of them cleanly."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Coroutine
from enum import StrEnum
from typing import Any

log = logging.getLogger(__name__)


class JobKind(StrEnum):
    BRING_UP = "bring-up"  # create or start the container, then wait until it answers its health check
    STOP = "stop"
    STOP_IDLE = "stop-idle"  # the router found it unused for its idle time
    DELETE = "delete"


class JobRunning(RuntimeError):
    """A tenant already has a job; the caller should have cancelled it or left the tenant alone."""


class JobsClosed(RuntimeError):
    """The App is shutting down: no new work starts."""


class Jobs:
    def __init__(self) -> None:
        self._running: dict[uuid.UUID, tuple[JobKind, asyncio.Task[None]]] = {}
        self._closed = False

    def kind(self, tenant_id: uuid.UUID) -> JobKind | None:
        """The job the tenant has now, if any."""
        entry = self._running.get(tenant_id)
        return entry[0] if entry else None

    def busy(self, tenant_id: uuid.UUID) -> bool:
        return tenant_id in self._running

    def __len__(self) -> int:
        return len(self._running)

    def start(self, tenant_id: uuid.UUID, kind: JobKind, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` in the background as the tenant's job."""
        if self._closed or tenant_id in self._running:
            work.close()  # never awaited: close it, or Python warns about it at exit
            if self._closed:
                raise JobsClosed("the App is shutting down; no new tenant work starts")
            raise JobRunning(f"tenant {tenant_id} already has a {self.kind(tenant_id)} job")
        task = asyncio.create_task(self._guarded(tenant_id, kind, work), name=f"tenant {kind} {tenant_id}")
        self._running[tenant_id] = (kind, task)
        # A callback, not a `finally` in the task: a task cancelled before it first ran never
        # executes its body, and must still leave the table (and not warn that `work` was never awaited).
        task.add_done_callback(lambda done: self._forget(tenant_id, done, work))

    async def cancel(self, tenant_id: uuid.UUID) -> None:
        """Cancel the tenant's job, if any, and wait until it has ended."""
        entry = self._running.get(tenant_id)
        if entry is None:
            return
        task = entry[1]
        task.cancel()
        await asyncio.wait([task])

    async def wait_idle(self) -> None:
        """Until no job runs (jobs started meanwhile included)."""
        while self._running:
            await asyncio.wait([task for _, task in self._running.values()])

    async def aclose(self, grace: float = 10.0) -> None:
        """Refuse new jobs, cancel the running ones and wait for them, `grace` seconds at most.

        A cancelled job first lets its engine call finish (see Lifecycle._engine); past the grace
        period the wait is abandoned: the reconciler of the next boot picks up where they left."""
        self._closed = True
        tasks = [task for _, task in self._running.values()]
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace)
        if pending:
            log.warning("%d tenant job(s) still busy after %g s at shutdown; abandoned", len(pending), grace)
            for task in pending:
                task.cancel()

    async def _guarded(self, tenant_id: uuid.UUID, kind: JobKind, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            # A job records its own failures on the tenant; this is a bug, and must not vanish.
            log.exception("tenant %s: %s job failed unexpectedly", tenant_id, kind)

    def _forget(
        self, tenant_id: uuid.UUID, task: asyncio.Task[None], work: Coroutine[Any, Any, None]
    ) -> None:
        work.close()
        entry = self._running.get(tenant_id)
        if entry is not None and entry[1] is task:
            del self._running[tenant_id]
