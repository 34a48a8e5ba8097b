"""The public entry point: :class:`Executor` runs validated plans; :class:`RunHandle`
watches and cancels one run.

::

    executor = Executor(tools)
    record = await executor.run(plan, {"quarter": "2026-Q3"})

    async with executor.start(plan) as handle:
        async for event in handle.events():
            ...
        record = await handle.wait()

A run lives inside the ``async with`` block: leaving the block waits for the run to end;
leaving it with an exception first cancels the run (cooperatively: running tasks are
cancelled, compensations still run). Each run has one task group of its own.

**When the sink fails** (an exception from ``save_run`` or ``add_events``, e.g. the
store's ``StoreUnavailable``), the run ends and that exception is raised as itself, not
wrapped in an ExceptionGroup: by :meth:`RunHandle.wait`, by :meth:`Executor.run`, and on
leaving :meth:`Executor.start`.

- If the first ``save_run`` fails, no task starts.
- Later, the run is cancelled as :meth:`RunHandle.cancel` does it, with an error (code
  ``cancelled``) naming the sink failure: nothing new starts, running tasks are cancelled
  through their scopes, and succeeded tasks that have a compensation are compensated (the
  tools may well be reachable when the store is not, and an undone run is safer than half
  a run left in place). Nothing more goes to the sink, so the store keeps what it
  acknowledged before the failure (a record still ``running``, the events up to then);
  :meth:`RunHandle.record` has the final record.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.abc import TaskGroup

from planexec.registry import ToolView
from planexec.schemas import PlanObject

from ._clock import Clock, Sleep, SystemClock
from ._errors import ErrorInfo, RunErrorCode
from ._events import Event, EventLog, RunSink
from ._limits import Limits
from ._records import RunRecord
from ._scheduler import Scheduler
from ._worker import Job, Message

__all__ = ["Executor", "RunHandle"]

SINK_BATCH_INTERVAL_S = 0.010
"""The sink gets a batch of events at most once per this many seconds while the run goes
on (the rest as soon as the run ends, without waiting): every ``add_events`` call has a
cost whatever the batch's size (on SQLite, a round trip to the connection's thread, the
GIL handed back and forth, and a transaction: ~0.2 ms of the event loop's CPU measured by
``benchmarks.store``), so a busy run gives the sink a few large batches, not one per
write's latency. A failing sink is noticed at most this much later."""


class RunHandle:
    """One run in progress: its events, a live record, a way to cancel it."""

    def __init__(self, scheduler: Scheduler, log: EventLog) -> None:
        self._scheduler = scheduler
        self._log = log
        self._done = anyio.Event()
        self._record: RunRecord | None = None
        self._sink_error: Exception | None = None

    @property
    def run_id(self) -> str:
        return self._scheduler.run_id

    def record(self) -> RunRecord:
        """The run record as it stands now (final once the run is over)."""
        return self._record or self._scheduler.snapshot()

    async def events(self) -> AsyncIterator[Event]:
        """Every event of the run from the first one, in ``seq`` order; ends with the run."""
        async for batch in self._log.follow():
            for event in batch:
                yield event

    def cancel(self) -> None:
        """Ask the run to stop. Idempotent; a run that is over stays as it ended."""
        if self._record is None:
            self._scheduler.cancel()

    async def wait(self) -> RunRecord:
        """Wait for the run to end (compensations included) and return its record.

        Raises the sink's exception if the sink failed (see the module docstring)."""
        record = await self._finished()
        if self._sink_error is not None:
            raise self._sink_error
        return record

    async def _finished(self) -> RunRecord:
        await self._done.wait()
        assert self._record is not None
        return self._record

    async def _drive(self, task_group: TaskGroup, sink: RunSink | None) -> None:
        if sink is None:
            self._end(await self._scheduler.run(task_group))
            return
        try:
            await sink.save_run(self._scheduler.snapshot())
        except Exception as error:
            self._sink_failed(error, "its first record could not be saved; no task started")
            self._log.close()
            self._end(self._scheduler.snapshot())
            return
        forwarded = anyio.Event()
        task_group.start_soon(self._forward_events, sink, forwarded)
        record = await self._scheduler.run(task_group)
        await forwarded.wait()
        if self._sink_error is None:
            try:
                await sink.save_run(record)
            except Exception as error:
                self._sink_failed(error, "its final record could not be saved")
        self._end(record)

    def _end(self, record: RunRecord) -> None:
        self._record = record
        self._done.set()

    async def _forward_events(self, sink: RunSink, forwarded: anyio.Event) -> None:
        try:
            async for batch in self._log.follow(every_s=SINK_BATCH_INTERVAL_S):
                await sink.add_events(batch)
        except Exception as error:
            self._sink_failed(error, "its events could not be saved; the run was stopped")
            reason = ErrorInfo(
                code=RunErrorCode.CANCELLED,
                message=f"the run was stopped because its sink failed: {type(error).__name__}: {error}",
                detail={"sink_error": type(error).__name__},
            )
            self._scheduler.cancel(reason)
        finally:
            forwarded.set()

    def _sink_failed(self, error: Exception, what: str) -> None:
        if self._sink_error is None:
            self._sink_error = error
            error.add_note(f"planexec: the sink of run {self.run_id} failed: {what}")


class Executor:
    """Runs validated plans against a tool view.

    The plan is trusted to be valid (see :func:`planexec.planner.validate_plan`):
    dependencies include every task a reference names, handlers are named by exactly one
    task, ``$<x.error>`` appears only in x's handler. ``sink`` (the store) receives each
    run's record and events as they happen. ``clock`` stamps records and events; ``sleep``
    is what retries wait with.
    """

    def __init__(
        self,
        tools: ToolView,
        sink: RunSink | None = None,
        *,
        limits: Limits | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self._tools = tools
        self._sink = sink
        self._limits = limits or Limits()
        self._clock = clock or SystemClock()
        self._sleep = sleep or anyio.sleep
        self._deadline: Sleep = anyio.sleep
        """What the plan's ``timeout_s`` waits with; a recorded replay substitutes its own."""

    async def run(
        self, plan: PlanObject, inputs: dict[str, Any] | None = None, run_id: str | None = None
    ) -> RunRecord:
        """Run ``plan`` to its end and return the run record. ``inputs`` override the
        plan's own inputs key by key."""
        async with self.start(plan, inputs, run_id=run_id) as handle:
            return await handle.wait()

    @asynccontextmanager
    async def start(
        self, plan: PlanObject, inputs: dict[str, Any] | None = None, *, run_id: str | None = None
    ) -> AsyncIterator[RunHandle]:
        """Start ``plan`` and yield its :class:`RunHandle` (see the module docstring)."""
        inbox_tx, inbox_rx = anyio.create_memory_object_stream[Message](math.inf)
        jobs_tx, jobs_rx = anyio.create_memory_object_stream[Job](math.inf)
        with inbox_tx, inbox_rx, jobs_tx, jobs_rx:
            log = EventLog()
            scheduler = Scheduler(
                plan=plan,
                inputs={**plan.inputs, **(inputs or {})},
                run_id=run_id or str(uuid.uuid4()),
                tools=self._tools,
                limits=self._limits,
                clock=self._clock,
                sleep=self._sleep,
                deadline=self._deadline,
                log=log,
                inbox=(inbox_tx, inbox_rx),
                jobs=(jobs_tx, jobs_rx),
            )
            handle = RunHandle(scheduler, log)
            failure: Exception | None = None
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(handle._drive, task_group, self._sink)
                try:
                    yield handle
                except Exception as error:
                    failure = error
                    handle.cancel()
                    await handle._finished()
            # Raised after the task group, so they are not wrapped in an ExceptionGroup.
            if failure is not None:
                raise failure
            if handle._sink_error is not None:
                raise handle._sink_error
