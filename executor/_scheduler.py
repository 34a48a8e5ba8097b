"""The scheduler: the one loop that changes a run's state (DESIGN §5).

Workers make the calls (see :mod:`._worker`); their results come back over one memory
object stream, and this loop alone applies them to the :class:`~._state.RunState`,
decides what starts next and hands it to the workers.

- A ready task starts as soon as its limits allow (see :mod:`._limits`), highest rank
  first; nothing waits for a whole "level" to finish.
- Its references are resolved just before the call; a path that does not exist fails the
  task with ``bad_reference`` and the tool is not called.
- A cancel request, the plan's deadline or (under ``abort``) a failure stops launching
  and cancels running tasks through their cancel scopes; once nothing runs, succeeded
  tasks are compensated in reverse completion order, one at a time, each with its task's
  retry policy, with the idempotency key ``run_id:task_id:compensation``. Cancel requests
  and the deadline do not interrupt compensation.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

import anyio
from anyio import CancelScope, WouldBlock
from anyio.abc import TaskGroup
from anyio.lowlevel import checkpoint
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from planexec.registry import ToolSpec, ToolView
from planexec.schemas import Compensation, PlanObject, RetryPolicy, Task

from ._clock import Clock, Sleep
from ._errors import ErrorInfo, RunErrorCode
from ._events import EventLog
from ._limits import Admission, Limits
from ._records import RunRecord, RunStatus
from ._resolve import BadReference, resolve
from ._retry import Call
from ._state import RunState
from ._worker import CancelRequested, DeadlineReached, Finished, Job, Message, Retrying, Worker

__all__ = ["Scheduler"]

_DEFAULT_RETRY = RetryPolicy()


def _not_permitted(tool_name: str) -> ErrorInfo:
    return ErrorInfo(
        code=RunErrorCode.TOOL_NOT_PERMITTED,
        message=f"tool {tool_name!r} is not available to this run",
        detail={"tool": tool_name},
    )


class Scheduler:
    """Runs one plan once: build it, then ``await run(task_group)`` exactly once."""

    def __init__(
        self,
        *,
        plan: PlanObject,
        inputs: dict[str, Any],
        run_id: str,
        tools: ToolView,
        limits: Limits,
        clock: Clock,
        sleep: Sleep,
        deadline: Sleep,
        log: EventLog,
        inbox: tuple[MemoryObjectSendStream[Message], MemoryObjectReceiveStream[Message]],
        jobs: tuple[MemoryObjectSendStream[Job], MemoryObjectReceiveStream[Job]],
    ) -> None:
        self._state = RunState(
            plan=plan,
            inputs=inputs,
            run_id=run_id,
            clock=clock,
            log=log,
            on_ready=self._make_ready,
            on_halt=self._cancel_running,
        )
        self._plan = plan
        self._tools = tools
        self._clock = clock
        self._sleep = sleep
        self._deadline = deadline
        self._inbox_tx, self._inbox = inbox
        self._jobs, self._jobs_rx = jobs
        plan_limit = min(plan.max_concurrency or limits.max_concurrency, limits.max_concurrency)
        self._admission = Admission(plan_limit, limits.per_server)
        self._running: dict[str, CancelScope] = {}
        self._specs: dict[str, ToolSpec | None] = {}
        self._busy = 0
        self._workers = 0
        self._deadline_scope = CancelScope()
        self._task_group: TaskGroup | None = None

    @property
    def run_id(self) -> str:
        return self._state.run_id

    async def run(self, task_group: TaskGroup) -> RunRecord:
        state = self._state
        self._task_group = task_group
        try:
            state.start()
            if self._plan.timeout_s is not None:
                task_group.start_soon(self._watch_deadline, self._plan.timeout_s)
            await self._execute()
            self._deadline_scope.cancel()
            state.settle()
            if state.halt is not None:
                for tid in reversed(state.succeeded):
                    compensation = self._plan.tasks[tid].compensation
                    if compensation is not None:
                        await self._compensate(tid, compensation)
            state.finish()
        finally:
            self._jobs.close()
            self._deadline_scope.cancel()
            state.close()
        return state.snapshot()

    def cancel(self, error: ErrorInfo | None = None) -> None:
        """Ask the run to stop; running tasks are cancelled and compensations still run.
        ``error`` (code ``cancelled``) says why, when not a plain cancel."""
        if self._state.status is RunStatus.RUNNING:
            with suppress(anyio.ClosedResourceError):  # the run ended without finishing
                self._inbox_tx.send_nowait(CancelRequested(error))

    def expire(self) -> None:
        """The plan's deadline has passed (a recorded replay calls this where the recorded
        run met its deadline; otherwise the deadline watcher does)."""
        if self._state.status is RunStatus.RUNNING:
            with suppress(anyio.ClosedResourceError):
                self._inbox_tx.send_nowait(DeadlineReached())

    def snapshot(self) -> RunRecord:
        return self._state.snapshot()

    def calls_if_idle(self) -> int | None:
        """How many calls are in flight, if this loop waits for a message and none is
        queued; None while it has work. (A recorded replay uses it to tell a replay that
        can go no further: every call in flight waits on the replay itself.)"""
        stats = self._inbox.statistics()
        if stats.tasks_waiting_receive and not stats.current_buffer_used:
            return self._busy
        return None

    # -- the loop --------------------------------------------------------------------

    async def _execute(self) -> None:
        while True:
            while self._state.halt is None and (ready := self._admission.pop()) is not None:
                self._launch(*ready)
            if self._busy == 0:
                return
            await self._staff()
            self._handle(await self._inbox.receive())
            while True:
                try:
                    message = self._inbox.receive_nowait()
                except WouldBlock:
                    break
                self._handle(message)

    def _handle(self, message: Message) -> None:
        state = self._state
        if isinstance(message, Finished):
            tid = message.task_id
            self._busy -= 1
            del self._running[tid]
            spec = state.tasks[tid].spec
            assert spec is not None
            self._admission.release(spec)
            state.finished(tid, message.last, cancelled=message.cancelled)
        elif isinstance(message, Retrying):
            state.retrying(message.task_id, message.attempt, message.delay_s, compensation=False)
        elif isinstance(message, CancelRequested):
            error = message.error or ErrorInfo(code=RunErrorCode.CANCELLED, message="the run was cancelled")
            state.stop(error, run_error=error, cancelled=True)
        else:
            timeout = self._plan.timeout_s
            error = ErrorInfo(
                code=RunErrorCode.DEADLINE_EXCEEDED,
                message=f"the plan did not finish within its timeout of {timeout} s",
                detail={"timeout_s": timeout},
            )
            state.stop(error, run_error=error)

    async def _watch_deadline(self, seconds: float) -> None:
        # ``deadline`` is anyio.sleep (anyio's clock, like per-attempt timeouts) except in a
        # recorded replay, which never waits for it: it calls expire() at the recorded moment.
        with self._deadline_scope:
            await self._deadline(seconds)
            self.expire()

    def _cancel_running(self) -> None:
        for scope in self._running.values():
            scope.cancel()

    # -- workers -----------------------------------------------------------------------

    def _dispatch(self, job: Job) -> None:
        self._busy += 1
        self._jobs.send_nowait(job)

    async def _staff(self) -> None:
        """Make sure every queued job gets a worker.

        A worker that finds the queue non-empty takes the next job without sleeping, so
        one worker drains a queue of quick calls in one go. Workers are added only for
        jobs still queued after one checkpoint, i.e. when the running ones are busy
        waiting on their tools; there are never more workers than calls in flight.
        """
        if self._workers == 0:
            self._add_workers(1)
        while self._jobs.statistics().current_buffer_used and self._workers < self._busy:
            await checkpoint()
            queued = self._jobs.statistics().current_buffer_used
            self._add_workers(min(queued, self._busy - self._workers))

    def _add_workers(self, count: int) -> None:
        assert self._task_group is not None
        for _ in range(count):
            worker = Worker(self._jobs_rx, self._inbox_tx, self._tools, self._clock, self._sleep)
            self._task_group.start_soon(worker.run)
        self._workers += count

    # -- launching -----------------------------------------------------------------------

    def _make_ready(self, tid: str) -> None:
        state = self._state
        if state.halt is not None:
            return
        tool_name = self._plan.tasks[tid].tool_name
        spec = self._specs[tool_name] if tool_name in self._specs else self._spec(tool_name)
        if spec is None:
            state.fail(tid, _not_permitted(tool_name))
            return
        state.tasks[tid].spec = spec
        self._admission.push(tid, state.graph.rank[tid], spec)

    def _spec(self, tool_name: str) -> ToolSpec | None:
        """The tool's spec if this run may call it. Looked up once per run: the registry
        checks permission again on every call anyway."""
        if tool_name not in self._specs:
            permitted = self._tools.is_permitted(tool_name)
            self._specs[tool_name] = self._tools.get(tool_name) if permitted else None
        return self._specs[tool_name]

    def _call(
        self,
        tid: str,
        task: Task,
        tool_name: str,
        arguments: dict[str, Any],
        spec: ToolSpec,
        timeout_s: float | None,
        key: str,
    ) -> Call:
        return Call(  # positional: this runs once per task
            self._state.run_id,
            tid,
            tool_name,
            arguments,
            key,
            task.retry or _DEFAULT_RETRY,
            timeout_s or spec.timeout_s,
            spec.idempotent or task.retry_after_timeout,
        )

    def _launch(self, tid: str, spec: ToolSpec) -> None:
        task = self._plan.tasks[tid]
        parameters = task.parameters
        try:
            arguments = resolve(parameters, self._state.lookup) if parameters else {}
        except BadReference as bad:
            self._admission.release(spec)
            self._state.fail(tid, bad.error)
            return
        scope = self._running[tid] = CancelScope()
        self._state.running(tid, task.tool_name)
        key = f"{self._state.run_id}:{tid}"  # the same on every attempt
        call = self._call(tid, task, task.tool_name, arguments, spec, task.timeout_s, key)
        self._dispatch(Job(call, scope))

    # -- compensation ----------------------------------------------------------------------

    async def _compensate(self, tid: str, compensation: Compensation) -> None:
        state = self._state
        state.compensating(tid, compensation.tool_name)
        spec = self._spec(compensation.tool_name)
        try:
            arguments = resolve(compensation.parameters, state.lookup)
        except BadReference as bad:
            state.compensated(tid, None, bad.error)
            return
        if spec is None:
            state.compensated(tid, None, _not_permitted(compensation.tool_name))
            return
        key = f"{state.run_id}:{tid}:compensation"
        task = self._plan.tasks[tid]
        call = self._call(tid, task, compensation.tool_name, arguments, spec, compensation.timeout_s, key)
        self._dispatch(Job(call, CancelScope(), compensation=True))
        await self._staff()
        while True:
            message = await self._inbox.receive()
            if isinstance(message, Retrying):
                state.retrying(tid, message.attempt, message.delay_s, compensation=True)
            elif isinstance(message, Finished):
                self._busy -= 1
                last = message.last
                error = last.error if last else ErrorInfo(code=RunErrorCode.CANCELLED, message="cancelled")
                state.compensated(tid, last, error)
                return
