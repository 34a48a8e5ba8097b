"""A run's state machine: task statuses, what each transition implies, the run outcome.

:class:`RunState` is owned by the scheduler loop and changed by it alone. It decides, with
no I/O of its own:

- readiness: a task is ready once every dependency succeeded or recovered; a handler
  only once, in addition, the task it handles asked for it;
- failure: a task that fails for good runs its handler if it has one (the task is then
  ``recovered`` with the handler's output, or stays ``failed`` if the handler fails);
  otherwise ``abort`` stops the run and ``continue`` skips what depends on the failure;
- the end: tasks never started are ``skipped`` (``upstream_failed`` below a failure, else
  the reason the run stopped), and the run is ``cancelled`` if cancelled, ``failed`` if a
  task is left ``failed`` or the deadline passed, else ``succeeded`` with its output.

Every transition is an event. ``on_ready`` and ``on_halt`` tell the scheduler when a task
may start and when running tasks must be cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from planexec.schemas import OnFailure, PlanObject, Ref, RefKind, format_ref

from ._clock import Clock
from ._errors import ErrorInfo, RunErrorCode
from ._events import Event, EventLog, EventType
from ._graph import PlanGraph
from ._records import AttemptRecord, CompensationStatus, RunRecord, RunStatus, TaskStatus
from ._resolve import BadReference, resolve
from ._task_state import CompensationState, TaskState

__all__ = ["RunState"]

_RUN_END = {
    RunStatus.SUCCEEDED: EventType.RUN_SUCCEEDED,
    RunStatus.FAILED: EventType.RUN_FAILED,
    RunStatus.CANCELLED: EventType.RUN_CANCELLED,
}
_COMPENSATION_END = {
    CompensationStatus.SUCCEEDED: (TaskStatus.COMPENSATED, EventType.TASK_COMPENSATED),
    CompensationStatus.FAILED: (TaskStatus.COMPENSATION_FAILED, EventType.TASK_COMPENSATION_FAILED),
}


def _upstream_failed(upstream: str) -> ErrorInfo:
    return ErrorInfo(
        code=RunErrorCode.UPSTREAM_FAILED,
        message=f"not run: upstream task {upstream!r} did not succeed",
        detail={"upstream": upstream},
    )


class RunState:
    def __init__(
        self,
        *,
        plan: PlanObject,
        inputs: dict[str, Any],
        run_id: str,
        clock: Clock,
        log: EventLog,
        on_ready: Callable[[str], None],
        on_halt: Callable[[], None],
    ) -> None:
        self.run_id = run_id
        self.plan = plan
        self.graph = PlanGraph.of(plan)
        self.tasks = {tid: TaskState(len(deps)) for tid, deps in self.graph.dependencies.items()}
        self.succeeded: list[str] = []
        """Tasks that succeeded, in completion order (what compensation undoes)."""
        self.halt: ErrorInfo | None = None
        """Why launching stopped (given to the tasks it cut short); None while it goes on."""
        self._inputs = inputs
        self._clock = clock
        self._log = log
        self._on_ready = on_ready
        self._on_halt = on_halt
        self._failed: list[str] = []
        self._run_error: ErrorInfo | None = None
        self._cancelled = False
        self._status = RunStatus.RUNNING
        self._output: Any = None
        self._now = clock.now
        self._monotonic = clock.monotonic
        self._started_at = clock.now()
        self._started = clock.monotonic()
        self._finished_at: datetime | None = None
        self._seq = 0

    @property
    def status(self) -> RunStatus:
        return self._status

    def close(self) -> None:
        """No more events: readers of the log stop once they have seen every one."""
        self._log.close()

    def emit(self, type_: EventType, task_id: str | None, attempt: int | None, **detail: Any) -> None:
        self._emit(type_, task_id, attempt, detail)

    def _emit(
        self, type_: EventType, task_id: str | None, attempt: int | None, detail: dict[str, Any]
    ) -> None:
        self._seq += 1
        self._log.append(Event(self._seq, self._now(), self.run_id, task_id, type_, attempt, detail))

    def lookup(self, ref: Ref) -> Any:
        """The value a reference's root names (see ``_resolve.RootLookup``)."""
        if ref.kind is RefKind.INPUTS:
            return self._inputs
        state = self.tasks.get(ref.task or "")
        if state is None:
            raise BadReference(ref, f"{format_ref(ref)}: there is no task {ref.task!r}")
        if ref.kind is RefKind.OUTPUT:
            if not state.has_output:
                raise BadReference(
                    ref, f"{format_ref(ref)}: task {ref.task!r} has no output ({state.status})"
                )
            return state.output
        if state.error is None:
            raise BadReference(ref, f"{format_ref(ref)}: task {ref.task!r} has no error ({state.status})")
        return state.error.as_json()

    # -- the run's course ------------------------------------------------------------

    def start(self) -> None:
        self.emit(
            EventType.RUN_STARTED,
            None,
            None,
            plan_id=self.plan.plan_id,
            tasks=len(self.tasks),
            inputs=self._inputs,
        )
        for tid, state in self.tasks.items():
            if state.waiting == 0 and tid not in self.graph.handles:
                self._on_ready(tid)

    def running(self, tid: str, tool: str) -> None:
        state = self.tasks[tid]
        state.status, state.started = TaskStatus.RUNNING, self._monotonic()
        self._emit(EventType.TASK_RUNNING, tid, 1, {"tool": tool})

    @staticmethod
    def _timing(state: TaskState) -> dict[str, float]:
        return {} if state.duration_s is None else {"duration_s": state.duration_s}

    def retrying(self, tid: str, attempt: AttemptRecord, delay_s: float, *, compensation: bool) -> None:
        state = self.tasks[tid]
        undo = state.compensation
        (undo.attempts if compensation and undo else state.attempts).append(attempt)
        error = attempt.error.as_json() if attempt.error else None
        self.emit(
            EventType.ATTEMPT_FAILED,
            tid,
            attempt.n,
            error=error,
            retry_in_s=delay_s,
            compensation=compensation,
        )

    def finished(self, tid: str, last: AttemptRecord | None, *, cancelled: bool) -> None:
        """The call of ``tid`` is over: ``last`` is its final attempt, if it made one."""
        state = self.tasks[tid]
        if state.started is not None:
            state.duration_s = round(self._monotonic() - state.started, 6)
        if last is not None:
            state.attempts.append(last)
        if cancelled or last is None:
            state.status = TaskStatus.CANCELLED
            state.error = self.halt or ErrorInfo(
                code=RunErrorCode.CANCELLED, message="the task was cancelled"
            )
            error = state.error.as_json()
            attempt = len(state.attempts) or None
            self.emit(EventType.TASK_CANCELLED, tid, attempt, error=error, **self._timing(state))
            self._ended_without_output(tid)
        elif last.error is None:
            self._succeed(tid, state, last)
        else:
            self.fail(tid, last.error)

    def fail(self, tid: str, error: ErrorInfo) -> None:
        """``tid`` failed (after its retries); its handler gets a chance first."""
        state = self.tasks[tid]
        state.status, state.error = TaskStatus.FAILED, error
        handler = self.plan.tasks[tid].on_error or ""
        helper = self.tasks.get(handler)
        detail = {"error": error.as_json(), **self._timing(state)}
        if (
            helper is None
            or self.halt is not None
            or helper.status is not TaskStatus.PENDING
            or helper.requested
        ):
            self.emit(EventType.TASK_FAILED, tid, len(state.attempts) or None, **detail)
            self._failed_for_good(tid)
            return
        state.awaiting, helper.requested = handler, True
        self.emit(EventType.TASK_FAILED, tid, len(state.attempts) or None, **detail, handler=handler)
        if helper.waiting == 0:
            self._on_ready(handler)

    def stop(self, error: ErrorInfo, *, run_error: ErrorInfo | None = None, cancelled: bool = False) -> None:
        """Stop launching and cancel what runs; the first reason wins."""
        if self.halt is not None:
            return
        self.halt, self._run_error, self._cancelled = error, run_error, cancelled
        self.emit(EventType.RUN_ABORTING, None, None, error=error.as_json())
        self._on_halt()

    def _succeed(self, tid: str, state: TaskState, last: AttemptRecord) -> None:
        state.status, state.output, state.has_output = TaskStatus.SUCCEEDED, last.output, True
        self.succeeded.append(tid)
        self._emit(EventType.TASK_SUCCEEDED, tid, last.n, self._timing(state))
        handled = self.graph.handles.get(tid)
        if handled is not None and self.tasks[handled].awaiting == tid:
            recovered = self.tasks[handled]
            recovered.status, recovered.output, recovered.has_output = TaskStatus.RECOVERED, last.output, True
            recovered.handled_by, recovered.awaiting = tid, None
            self.emit(EventType.TASK_RECOVERED, handled, len(recovered.attempts) or None, handled_by=tid)
            self._release_dependents(handled)
        self._release_dependents(tid)

    def _release_dependents(self, tid: str) -> None:
        tasks, handlers = self.tasks, self.graph.handles
        for child in self.graph.dependents[tid]:
            state = tasks[child]
            state.waiting -= 1
            if (
                state.waiting == 0
                and state.status is TaskStatus.PENDING
                and (state.requested or child not in handlers)  # a handler waits to be needed
            ):
                self._on_ready(child)

    def _ended_without_output(self, tid: str) -> None:
        """If ``tid`` is a handler some failed task waits on, that task fails for good."""
        handled = self.graph.handles.get(tid)
        if handled is None or self.tasks[handled].awaiting != tid:
            return
        state = self.tasks[handled]
        state.awaiting = None
        handler_error = self.tasks[tid].error
        if state.error is not None:
            extra = {"handler": tid, "handler_error": handler_error.as_json() if handler_error else None}
            state.error = state.error.model_copy(update={"detail": {**state.error.detail, **extra}})
        self._failed_for_good(handled)

    def _failed_for_good(self, tid: str) -> None:
        self._ended_without_output(tid)
        self._failed.append(tid)
        if self.plan.on_failure is OnFailure.ABORT:
            self.stop(
                ErrorInfo(
                    code=RunErrorCode.CANCELLED,
                    message=f"stopped because task {tid!r} failed and the plan aborts on failure",
                    detail={"failed_task": tid},
                )
            )
            return
        error = _upstream_failed(tid)
        stack = list(self.graph.dependents[tid])
        while stack:
            child = stack.pop()
            if self.tasks[child].status is TaskStatus.PENDING:
                self._skip(child, error)
                stack.extend(self.graph.dependents[child])

    def _skip(self, tid: str, error: ErrorInfo | None) -> None:
        state = self.tasks[tid]
        state.status, state.error = TaskStatus.SKIPPED, error
        self.emit(EventType.TASK_SKIPPED, tid, None, error=error.as_json() if error else None)
        self._ended_without_output(tid)

    # -- compensation ----------------------------------------------------------------

    def compensating(self, tid: str, tool: str) -> None:
        self.tasks[tid].compensation = CompensationState(started_at=self._clock.now())
        self.emit(EventType.COMPENSATION_STARTED, tid, None, tool=tool)

    def compensated(self, tid: str, last: AttemptRecord | None, error: ErrorInfo | None) -> None:
        """The compensation of ``tid`` is over; ``error`` is None when it succeeded."""
        state = self.tasks[tid]
        undo = state.compensation
        assert undo is not None
        if last is not None:
            undo.attempts.append(last)
        undo.finished_at, undo.error = self._clock.now(), error
        undo.status = CompensationStatus.SUCCEEDED if error is None else CompensationStatus.FAILED
        state.status, event = _COMPENSATION_END[undo.status]
        self.emit(event, tid, len(undo.attempts) or None, error=error.as_json() if error else None)

    # -- the end ---------------------------------------------------------------------

    def settle(self) -> None:
        """Once nothing runs any more: failed tasks whose handler never got to start fail
        for good (it waited on tasks that will not run, or the run stopped)."""
        for state in self.tasks.values():
            handler = state.awaiting
            if handler is not None and self.tasks[handler].status is TaskStatus.PENDING:
                self._skip(handler, self._why_not_run(handler))

    def finish(self) -> None:
        """Skip what never ran, then decide the run's status, error and output."""
        for tid in self.graph.topological:
            if self.tasks[tid].status is TaskStatus.PENDING:
                self._skip(tid, self._why_not_run(tid))
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
        duration_s = round(self._clock.monotonic() - self._started, 6)
        self.emit(_RUN_END[status], None, None, error=error, duration_s=duration_s)

    def _why_not_run(self, tid: str) -> ErrorInfo | None:
        if tid in self.graph.handles and not self.tasks[tid].requested:
            return None  # a handler nobody needed
        deps = self.graph.dependencies[tid]
        for dep in deps:
            dep_state = self.tasks[dep]
            if dep_state.status is TaskStatus.FAILED:
                return _upstream_failed(dep)
            if dep_state.error is not None and dep_state.error.code is RunErrorCode.UPSTREAM_FAILED:
                return dep_state.error
        if self.halt is not None:
            return self.halt
        unfinished = [dep for dep in deps if not self.tasks[dep].has_output]
        return _upstream_failed(unfinished[0]) if unfinished else None

    def _failure_error(self) -> ErrorInfo:
        first = self._failed[0]
        cause = self.tasks[first].error
        assert cause is not None
        more = len(self._failed) - 1
        suffix = f" (and {more} more failed task(s))" if more else ""
        return ErrorInfo(
            code=cause.code,
            message=f"task {first!r} failed: {cause.message}{suffix}",
            detail={"task_id": first, "failed_tasks": list(self._failed)},
        )

    def _run_output(self) -> Any:
        if self.plan.output is None:
            return {tid: self.tasks[tid].output for tid in self.graph.sinks}
        return resolve(self.plan.output, self.lookup)

    def snapshot(self) -> RunRecord:
        return RunRecord(
            run_id=self.run_id,
            plan_id=self.plan.plan_id,
            status=self._status,
            output=self._output,
            error=self._run_error,
            started_at=self._started_at,
            finished_at=self._finished_at,
            tasks={tid: state.record() for tid, state in self.tasks.items()},
        )
