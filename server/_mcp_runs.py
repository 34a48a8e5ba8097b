"""Runs in progress in this server process, in one server-lifetime task group.

Every run the MCP surface starts lives here, whether its request waits for it
(``execute_plan wait=true``) or not: a run belongs to the server, not to the request, so
a client that goes away (or a ``wait=false`` call) leaves it running, and ``cancel_run``
from any request of the same tenant can stop it. A request that waits and is itself
cancelled cancels its run (cooperatively: the run still compensates and stores its end).

Runs are keyed by (tenant, run id): another tenant's run is invisible. At most
``max_per_tenant`` runs of one tenant are in progress at once; admission is decided
before the first await, so two racing requests cannot both take the last slot.

Runs are shielded from the cancellation of the task group they live in: they stop when
asked (:meth:`RunRegistry.cancel_all`, cooperatively) or, past a grace period, when
stopped (:meth:`RunRegistry.stop_all`).

A run that fails inside (its sink, the store, raising) does not take the server down:
the failure is kept and re-raised to whoever waits for the run, and logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus

from planexec.executor import Executor, RunHandle, RunRecord
from planexec.schemas import PlanObject

from ._mcp_errors import TooManyRuns

__all__ = ["LiveRun", "RunRegistry"]

logger = logging.getLogger("planexec.server")


@dataclass(eq=False)
class LiveRun:
    """One run in progress (or just over): its handle and its end."""

    tenant: str
    handle: RunHandle
    task_count: int
    scope: anyio.CancelScope
    done: anyio.Event = field(default_factory=anyio.Event)
    failure: Exception | None = None

    @property
    def run_id(self) -> str:
        return self.handle.run_id

    async def wait(self) -> RunRecord:
        """The final record; re-raises what ended the run if it did not end normally."""
        await self.done.wait()
        if self.failure is not None:
            raise self.failure
        return self.handle.record()


class RunRegistry:
    """The runs of this process, started in ``task_group`` (the server's lifetime)."""

    def __init__(self, task_group: TaskGroup, max_per_tenant: int) -> None:
        self._task_group = task_group
        self._max_per_tenant = max_per_tenant
        self._runs: dict[tuple[str, str], LiveRun] = {}
        self._counts: dict[str, int] = {}

    def get(self, tenant: str, run_id: str) -> LiveRun | None:
        return self._runs.get((tenant, run_id))

    def in_progress(self, tenant: str) -> int:
        return self._counts.get(tenant, 0)

    async def start(
        self,
        tenant: str,
        executor: Executor,
        plan: PlanObject,
        inputs: dict[str, Any] | None,
        run_id: str,
    ) -> LiveRun:
        """Start a run and return it at once, under way. Raises TooManyRuns at the
        tenant's limit; a failure after that (an unavailable store, say) ends the run
        and is raised by :meth:`LiveRun.wait`."""
        if self._counts.get(tenant, 0) >= self._max_per_tenant:
            raise TooManyRuns(tenant, self._max_per_tenant)
        self._counts[tenant] = self._counts.get(tenant, 0) + 1
        try:
            live: LiveRun = await self._task_group.start(self._run, tenant, executor, plan, inputs, run_id)
        except BaseException:
            self._release(tenant)
            raise
        return live

    async def _run(
        self,
        tenant: str,
        executor: Executor,
        plan: PlanObject,
        inputs: dict[str, Any] | None,
        run_id: str,
        *,
        task_status: TaskStatus[LiveRun],
    ) -> None:
        live: LiveRun | None = None
        # Shielded: a run outlives the request that started it, and a server that shuts
        # down cancels it cooperatively (cancel_all), not by cancelling its task.
        scope = anyio.CancelScope(shield=True)
        try:
            with scope:
                async with executor.start(plan, inputs, run_id=run_id) as handle:
                    live = LiveRun(tenant=tenant, handle=handle, task_count=len(plan.tasks), scope=scope)
                    self._runs[(tenant, run_id)] = live
                    task_status.started(live)
                    await handle.wait()
        except Exception as error:
            if live is None:
                raise  # not under way yet: start() raises it to the caller
            logger.error("run %s of tenant %s ended by an error", run_id, tenant, exc_info=error)
            live.failure = error
        finally:
            if live is not None:
                del self._runs[(tenant, run_id)]
                self._release(tenant)
                live.done.set()

    def _release(self, tenant: str) -> None:
        left = self._counts[tenant] - 1
        if left:
            self._counts[tenant] = left
        else:
            del self._counts[tenant]

    def cancel_all(self) -> None:
        """Ask every run to stop (cooperatively); they end in their own time."""
        for live in list(self._runs.values()):
            live.handle.cancel()

    async def wait_all(self) -> None:
        for live in list(self._runs.values()):
            await live.done.wait()

    def stop_all(self) -> None:
        """Stop every run now (hard: compensations in progress are cut short)."""
        for live in list(self._runs.values()):
            live.scope.cancel()
