"""The scheduler: the one loop that owns a run's state (DESIGN §5).

Workers make the calls; their results come back over one memory object stream, and this
loop alone changes task states, emits events and decides what starts next.

- A task becomes ready when every dependency has succeeded or recovered, and starts as
  soon as the limits allow (see :mod:`._limits`), highest rank first.
- Its references are resolved just before the call; a path that does not exist fails the
  task with ``bad_reference`` and the tool is not called.
- A task that fails for good (after its retries) runs its handler when it has one; if the
  handler succeeds the task is ``recovered`` with the handler's output.
- ``on_failure: abort`` (and any cancel or the deadline): stop launching, cancel running
  tasks, then compensate succeeded tasks in reverse completion order, one at a time.
  ``continue``: skip what depends on the failure, run the rest, no compensation.
"""

from __future__ import annotations

from typing import Any

import anyio
from anyio import CancelScope, WouldBlock
from anyio.abc import TaskGroup
from anyio.lowlevel import checkpoint
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from planexec.registry import ToolSpec, ToolView
from planexec.schemas import Compensation, OnFailure, PlanObject, Ref, RefKind, RetryPolicy, format_ref

from ._clock import Clock, Sleep
from ._errors import ErrorInfo, RunErrorCode
from ._events import Event, EventLog, EventType
from ._graph import PlanGraph
from ._limits import Admission, Limits
from ._records import AttemptRecord, CompensationStatus, RunRecord, RunStatus, TaskStatus
from ._resolve import BadReference, resolve
from ._retry import Call, call_meta
from ._state import CompensationState, TaskState
from ._worker import CancelRequested, DeadlineReached, Finished, Job, Message, Retrying, work

__all__ = ["Scheduler"]

_DEFAULT_RETRY = RetryPolicy()
_RUN_END = {
    RunStatus.SUCCEEDED: EventType.RUN_SUCCEEDED,
    RunStatus.FAILED: EventType.RUN_FAILED,
    RunStatus.CANCELLED: EventType.RUN_CANCELLED,
}
_COMPENSATION_END = {
    CompensationStatus.SUCCEEDED: (TaskStatus.COMPENSATED, EventType.TASK_COMPENSATED),
    CompensationStatus.FAILED: (TaskStatus.COMPENSATION_FAILED, EventType.TASK_COMPENSATION_FAILED),
}


class Scheduler:
    """Runs one plan once. Build it, then ``await run(task_group)`` exactly once."""

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
        log: EventLog,
        inbox: tuple[MemoryObjectSendStream[Message], MemoryObjectReceiveStream[Message]],
        jobs: tuple[MemoryObjectSendStream[Job], MemoryObjectReceiveStream[Job]],
    ) -> None:
        self.run_id = run_id
        self._plan = plan
        self._graph = PlanGraph.of(plan)
        self._inputs = inputs
        self._tools = tools
        self._clock = clock
        self._sleep = sleep
        self._log = log
        self._inbox_tx, self._inbox = inbox
        self._jobs, self._jobs_rx = jobs
        plan_limit = min(plan.max_concurrency or limits.max_concurrency, limits.max_concurrency)
        self._admission = Admission(plan_limit, limits.per_server)
        self._tasks = {tid: TaskState(waiting=len(deps)) for tid, deps in self._graph.dependencies.items()}
        self._running: dict[str, CancelScope] = {}
        self._specs: dict[str, ToolSpec | None] = {}
        self._succeeded: list[str] = []
        self._failed: list[str] = []
        self._halt: ErrorInfo | None = None
        self._run_error: ErrorInfo | None = None
        self._cancelled = False
        self._status = RunStatus.RUNNING
        self._output: Any = None
        self._started_at = clock.now()
        self._finished_at = self._started_at
        self._seq = 0
        self._busy = 0
        self._workers = 0
        self._deadline_scope = CancelScope()
        self._task_group: TaskGroup | None = None

    # -- the public surface: run, cancel, snapshot ------------------------------------

    async def run(self, task_group: TaskGroup) -> RunRecord:
        self._task_group = task_group
        self._emit(EventType.RUN_STARTED, None, None, plan_id=self._plan.plan_id, tasks=len(self._tasks))
        if self._plan.timeout_s is not None:
            task_group.start_soon(self._watch_deadline, self._plan.timeout_s)
        for tid, state in self._tasks.items():
            if state.waiting == 0 and tid not in self._graph.handles:
                self._make_ready(tid)
        try:
            await self._execute()
            self._deadline_scope.cancel()
            self._give_up_on_stranded_failures()
            if self._halt is not None:
                await self._compensate()
            self._skip_pending()
            self._finish()
        finally:
            self._jobs.close()
            self._deadline_scope.cancel()
            self._log.close()
        return self.snapshot()

    def cancel(self) -> None:
        """Ask the run to stop; running tasks are cancelled and compensations still run."""
        if self._status is RunStatus.RUNNING:
            self._inbox_tx.send_nowait(CancelRequested())

    def snapshot(self) -> RunRecord:
        return RunRecord(
            run_id=self.run_id,
            plan_id=self._plan.plan_id,
            status=self._status,
            output=self._output,
            error=self._run_error,
            started_at=self._started_at,
            finished_at=None if self._status is RunStatus.RUNNING else self._finished_at,
            tasks={tid: state.record() for tid, state in self._tasks.items()},
        )

    # -- the loop ------------------------------------------------------------------

    async def _execute(self) -> None:
        while True:
            self._launch_ready()
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
        if isinstance(message, Finished):
            self._on_finished(message)
        elif isinstance(message, Retrying):
            self._on_retrying(message)
        elif isinstance(message, CancelRequested):
            error = ErrorInfo(code=RunErrorCode.CANCELLED, message="the run was cancelled")
            self._stop(error, run_error=error, cancelled=True)
        else:
            timeout = self._plan.timeout_s
            error = ErrorInfo(
                code=RunErrorCode.DEADLINE_EXCEEDED,
                message=f"the plan did not finish within its timeout of {timeout} s",
                detail={"timeout_s": timeout},
            )
            self._stop(error, run_error=error)

    async def _watch_deadline(self, seconds: float) -> None:
        # On anyio's clock, like per-attempt timeouts; the injected sleep is for backoff.
        with self._deadline_scope:
            await anyio.sleep(seconds)
            self._inbox_tx.send_nowait(DeadlineReached())

    def _emit(self, type_: EventType, task_id: str | None, attempt: int | None, **detail: Any) -> None:
        self._seq += 1
        self._log.append(
            Event(
                seq=self._seq,
                at=self._clock.now(),
                run_id=self.run_id,
                task_id=task_id,
                type=type_,
                attempt=attempt,
                detail=detail,
            )
        )

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
            self._task_group.start_soon(
                work, self._jobs_rx, self._inbox_tx, self._tools, self._clock, self._sleep
            )
        self._workers += count

    # -- launching -------------------------------------------------------------------

    def _make_ready(self, tid: str) -> None:
        if self._halt is not None:
            return
        tool_name = self._plan.tasks[tid].tool_name
        spec = self._spec(tool_name)
        if spec is None:
            self._fail(tid, _not_permitted(tool_name))
            return
        self._tasks[tid].spec = spec
        self._admission.push(tid, self._graph.rank[tid], spec)

    def _spec(self, tool_name: str) -> ToolSpec | None:
        """The tool's spec if this run may call it. Looked up once per run: the registry
        checks permission again on every call anyway."""
        if tool_name not in self._specs:
            permitted = self._tools.is_permitted(tool_name)
            self._specs[tool_name] = self._tools.get(tool_name) if permitted else None
        return self._specs[tool_name]

    def _launch_ready(self) -> None:
        while self._halt is None and (ready := self._admission.pop()) is not None:
            self._launch(*ready)

    def _launch(self, tid: str, spec: ToolSpec) -> None:
        task = self._plan.tasks[tid]
        state = self._tasks[tid]
        try:
            arguments = resolve(task.parameters, self._root)
        except BadReference as bad:
            self._admission.release(spec)
            self._fail(tid, bad.error)
            return
        call = Call(
            task_id=tid,
            tool_name=task.tool_name,
            arguments=arguments,
            meta=call_meta(self.run_id, tid, f"{self.run_id}:{tid}"),
            policy=task.retry or _DEFAULT_RETRY,
            timeout_s=task.timeout_s or spec.timeout_s,
            retry_timeouts=spec.idempotent or task.retry_after_timeout,
        )
        scope = CancelScope()
        self._running[tid] = scope
        state.status = TaskStatus.RUNNING
        self._emit(EventType.TASK_RUNNING, tid, 1, tool=task.tool_name)
        self._dispatch(Job(call, scope))

    def _root(self, ref: Ref) -> Any:
        if ref.kind is RefKind.INPUTS:
            return self._inputs
        state = self._tasks.get(ref.task or "")
        if state is None:
            raise BadReference(ref, f"{format_ref(ref)}: there is no task {ref.task!r}")
        if ref.kind is RefKind.OUTPUT:
            if not state.has_output:
                raise BadReference(
                    ref, f"{format_ref(ref)}: task {ref.task!r} has no output (it is {state.status})"
                )
            return state.output
        if state.error is None:
            raise BadReference(
                ref, f"{format_ref(ref)}: task {ref.task!r} has no error (it is {state.status})"
            )
        return state.error.as_json()

    # -- results ---------------------------------------------------------------------

    def _on_retrying(self, message: Retrying) -> None:
        state = self._tasks[message.task_id]
        attempts = (
            state.compensation.attempts if message.compensation and state.compensation else state.attempts
        )
        attempts.append(message.attempt)
        error = message.attempt.error.as_json() if message.attempt.error else None
        self._emit(
            EventType.ATTEMPT_FAILED,
            message.task_id,
            message.attempt.n,
            error=error,
            retry_in_s=message.delay_s,
            compensation=message.compensation,
        )

    def _on_finished(self, message: Finished) -> None:
        tid = message.task_id
        state = self._tasks[tid]
        self._busy -= 1
        del self._running[tid]
        assert state.spec is not None
        self._admission.release(state.spec)
        last = message.last
        if last is not None:
            state.attempts.append(last)
        if message.cancelled or last is None:
            state.status = TaskStatus.CANCELLED
            state.error = self._halt or ErrorInfo(
                code=RunErrorCode.CANCELLED, message="the task was cancelled"
            )
            self._emit(
                EventType.TASK_CANCELLED, tid, len(state.attempts) or None, error=state.error.as_json()
            )
        elif last.error is None:
            self._succeed(tid, last)
        else:
            self._fail(tid, last.error)

    def _succeed(self, tid: str, last: AttemptRecord) -> None:
        state = self._tasks[tid]
        state.status = TaskStatus.SUCCEEDED
        state.output, state.has_output = last.output, True
        self._succeeded.append(tid)
        self._emit(EventType.TASK_SUCCEEDED, tid, last.n)
        handled = self._graph.handles.get(tid)
        if handled is not None and self._tasks[handled].awaiting == tid:
            recovered = self._tasks[handled]
            recovered.status = TaskStatus.RECOVERED
            recovered.output, recovered.has_output = last.output, True
            recovered.handled_by, recovered.awaiting = tid, None
            self._emit(EventType.TASK_RECOVERED, handled, len(recovered.attempts) or None, handled_by=tid)
            self._release_dependents(handled)
        self._release_dependents(tid)

    def _release_dependents(self, tid: str) -> None:
        for child in self._graph.dependents[tid]:
            state = self._tasks[child]
            state.waiting -= 1
            needed = child not in self._graph.handles or state.requested
            if state.waiting == 0 and state.status is TaskStatus.PENDING and needed:
                self._make_ready(child)

    def _fail(self, tid: str, error: ErrorInfo) -> None:
        """``tid`` failed; its handler gets a chance before the failure counts."""
        state = self._tasks[tid]
        state.status, state.error = TaskStatus.FAILED, error
        attempt = len(state.attempts) or None
        handler = self._plan.tasks[tid].on_error
        handler_state = self._tasks[handler] if handler else None
        if (
            handler is not None
            and handler_state is not None
            and self._halt is None
            and handler_state.status is TaskStatus.PENDING
            and not handler_state.requested
        ):
            state.awaiting = handler
            handler_state.requested = True
            self._emit(EventType.TASK_FAILED, tid, attempt, error=error.as_json(), handler=handler)
            if handler_state.waiting == 0:
                self._make_ready(handler)
            return
        self._emit(EventType.TASK_FAILED, tid, attempt, error=error.as_json())
        self._failed_for_good(tid)

    def _failed_for_good(self, tid: str) -> None:
        """``tid`` ended without output and nothing will change that."""
        handled = self._graph.handles.get(tid)
        if handled is not None and self._tasks[handled].awaiting == tid:
            self._handler_gave_up(handled, self._tasks[tid].error)
        self._failed.append(tid)
        if self._plan.on_failure is OnFailure.ABORT:
            self._stop(
                ErrorInfo(
                    code=RunErrorCode.CANCELLED,
                    message=f"stopped because task {tid!r} failed and the plan aborts on failure",
                    detail={"failed_task": tid},
                )
            )
        else:
            self._skip_dependents(tid)

    def _handler_gave_up(self, tid: str, handler_error: ErrorInfo | None) -> None:
        state = self._tasks[tid]
        handler, state.awaiting = state.awaiting, None
        if state.error is not None:
            extra = {"handler": handler, "handler_error": handler_error.as_json() if handler_error else None}
            state.error = state.error.model_copy(update={"detail": {**state.error.detail, **extra}})
        self._failed_for_good(tid)

    def _skip_dependents(self, failed: str) -> None:
        error = _upstream_failed(failed)
        stack = list(self._graph.dependents[failed])
        while stack:
            tid = stack.pop()
            state = self._tasks[tid]
            if state.status is not TaskStatus.PENDING:
                continue
            self._skip(tid, error)
            stack.extend(self._graph.dependents[tid])
            handled = self._graph.handles.get(tid)
            if handled is not None and self._tasks[handled].awaiting == tid:
                self._handler_gave_up(handled, error)

    def _skip(self, tid: str, error: ErrorInfo | None) -> None:
        state = self._tasks[tid]
        state.status, state.error = TaskStatus.SKIPPED, error
        self._emit(EventType.TASK_SKIPPED, tid, None, error=error.as_json() if error else None)

    def _stop(self, error: ErrorInfo, *, run_error: ErrorInfo | None = None, cancelled: bool = False) -> None:
        """Stop launching and cancel what runs; the first reason wins."""
        if self._halt is not None:
            return
        self._halt, self._run_error, self._cancelled = error, run_error, cancelled
        self._emit(EventType.RUN_ABORTING, None, None, error=error.as_json())
        for scope in self._running.values():
            scope.cancel()

    # -- the end of a run --------------------------------------------------------------

    def _give_up_on_stranded_failures(self) -> None:
        for tid, state in self._tasks.items():
            if state.awaiting is not None:
                handler_error = ErrorInfo(
                    code=self._halt.code if self._halt else RunErrorCode.UPSTREAM_FAILED,
                    message=f"handler {state.awaiting!r} could not run",
                )
                self._handler_gave_up(tid, handler_error)

    async def _compensate(self) -> None:
        for tid in reversed(self._succeeded):
            compensation = self._plan.tasks[tid].compensation
            if compensation is not None:
                await self._compensate_task(tid, compensation)

    async def _compensate_task(self, tid: str, compensation: Compensation) -> None:
        task = self._plan.tasks[tid]
        state = self._tasks[tid]
        undo = state.compensation = CompensationState(started_at=self._clock.now())
        self._emit(EventType.COMPENSATION_STARTED, tid, None, tool=compensation.tool_name)
        error: ErrorInfo | None = None
        spec = self._spec(compensation.tool_name)
        try:
            arguments = resolve(compensation.parameters, self._root)
        except BadReference as bad:
            error = bad.error
        else:
            if spec is None:
                error = _not_permitted(compensation.tool_name)
            else:
                call = Call(
                    task_id=tid,
                    tool_name=compensation.tool_name,
                    arguments=arguments,
                    meta=call_meta(self.run_id, tid, f"{self.run_id}:{tid}:compensation"),
                    policy=task.retry or _DEFAULT_RETRY,
                    timeout_s=compensation.timeout_s or spec.timeout_s,
                    retry_timeouts=spec.idempotent or task.retry_after_timeout,
                )
                self._dispatch(Job(call, CancelScope(), compensation=True))
                await self._staff()
                error = await self._compensation_outcome(undo)
        undo.finished_at, undo.error = self._clock.now(), error
        undo.status = CompensationStatus.SUCCEEDED if error is None else CompensationStatus.FAILED
        state.status, event = _COMPENSATION_END[undo.status]
        self._emit(event, tid, len(undo.attempts) or None, error=error.as_json() if error else None)

    async def _compensation_outcome(self, undo: CompensationState) -> ErrorInfo | None:
        """Wait for the compensation in flight; cancel requests and the deadline are
        ignored now (the run is already unwinding)."""
        while True:
            message = await self._inbox.receive()
            if isinstance(message, Retrying):
                self._on_retrying(message)
            elif isinstance(message, Finished):
                self._busy -= 1
                if message.last is None:
                    return ErrorInfo(code=RunErrorCode.CANCELLED, message="the compensation was cancelled")
                undo.attempts.append(message.last)
                return message.last.error

    def _skip_pending(self) -> None:
        for tid in self._graph.topological:
            if self._tasks[tid].status is TaskStatus.PENDING:
                self._skip(tid, self._why_not_run(tid))

    def _why_not_run(self, tid: str) -> ErrorInfo | None:
        if tid in self._graph.handles and not self._tasks[tid].requested:
            return None  # a handler nobody needed
        for dep in self._graph.dependencies[tid]:
            dep_state = self._tasks[dep]
            if dep_state.status is TaskStatus.FAILED:
                return _upstream_failed(dep)
            if dep_state.error is not None and dep_state.error.code is RunErrorCode.UPSTREAM_FAILED:
                return dep_state.error
        if self._halt is not None:
            return self._halt
        unfinished = [dep for dep in self._graph.dependencies[tid] if not self._tasks[dep].has_output]
        return _upstream_failed(unfinished[0]) if unfinished else None

    def _finish(self) -> None:
        self._finished_at = self._clock.now()
        if self._cancelled:
            status = RunStatus.CANCELLED
        elif self._failed or self._run_error is not None:
            status = RunStatus.FAILED
            self._run_error = self._run_error or self._failure_error()
        else:
            status = RunStatus.SUCCEEDED
            try:
                self._output = self._run_output()
            except BadReference as bad:
                status, self._run_error = RunStatus.FAILED, bad.error
        self._status = status
        error = self._run_error.as_json() if self._run_error else None
        self._emit(_RUN_END[status], None, None, error=error)

    def _failure_error(self) -> ErrorInfo:
        first = self._failed[0]
        cause = self._tasks[first].error
        assert cause is not None
        more = len(self._failed) - 1
        suffix = f" (and {more} more failed task(s))" if more else ""
        return ErrorInfo(
            code=cause.code,
            message=f"task {first!r} failed: {cause.message}{suffix}",
            detail={"task_id": first, "failed_tasks": list(self._failed)},
        )

    def _run_output(self) -> Any:
        if self._plan.output is None:
            return {tid: self._tasks[tid].output for tid in self._graph.sinks}
        return resolve(self._plan.output, self._root)


def _not_permitted(tool_name: str) -> ErrorInfo:
    return ErrorInfo(
        code=RunErrorCode.TOOL_NOT_PERMITTED,
        message=f"tool {tool_name!r} is not available to this run",
        detail={"tool": tool_name},
    )


def _upstream_failed(upstream: str) -> ErrorInfo:
    return ErrorInfo(
        code=RunErrorCode.UPSTREAM_FAILED,
        message=f"not run: upstream task {upstream!r} did not succeed",
        detail={"upstream": upstream},
    )
