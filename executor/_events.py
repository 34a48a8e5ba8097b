"""Run events (DESIGN §5) and the log that hands them to any number of readers.

Every transition is an :class:`Event` ``{seq, at, run_id, task_id, type, attempt, detail}``;
``seq`` starts at 1 and increases by one per run. Task events are named after the status
the task enters (``task_running`` ... ``task_compensation_failed``); besides those:

- ``attempt_failed``: an attempt failed and will be retried (``detail.retry_in_s``);
  ``task_succeeded|failed|cancelled`` after a call carry ``detail.duration_s``, the
  call's time with its retries, and the run's end event the run's (both on the
  clock's monotonic time);
- ``compensation_started``: an aborting run began undoing a task;
- ``run_started`` (``detail``: ``plan_id``, ``tasks``, and ``inputs``, the run's effective
  inputs: the plan's, overridden key by key by the caller's; a replay reads them back),
  ``run_aborting`` (launching stopped: a failure, a cancel or the
  deadline; ``detail.error`` says which), then one of ``run_succeeded|failed|cancelled``.

Only the scheduler appends to the log. Readers (:meth:`EventLog.follow`) see every event
from the first one, in order, however late they start, and stop once the run is over.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

import anyio

from ._records import RunRecord, format_timestamp

__all__ = ["Event", "EventLog", "EventType", "RunSink"]


class EventType(StrEnum):
    RUN_STARTED = "run_started"
    RUN_ABORTING = "run_aborting"
    RUN_SUCCEEDED = "run_succeeded"
    RUN_FAILED = "run_failed"
    RUN_CANCELLED = "run_cancelled"
    TASK_RUNNING = "task_running"
    ATTEMPT_FAILED = "attempt_failed"
    TASK_SUCCEEDED = "task_succeeded"
    TASK_FAILED = "task_failed"
    TASK_RECOVERED = "task_recovered"
    TASK_SKIPPED = "task_skipped"
    TASK_CANCELLED = "task_cancelled"
    COMPENSATION_STARTED = "compensation_started"
    TASK_COMPENSATED = "task_compensated"
    TASK_COMPENSATION_FAILED = "task_compensation_failed"


class Event(NamedTuple):
    """One transition. A NamedTuple: immutable, and a run makes two or more per task, so
    it is built as cheaply as Python builds an object (a frozen dataclass costs three
    times as much); they stay alive as long as the run's log."""

    seq: int
    at: datetime
    run_id: str
    task_id: str | None
    type: EventType
    attempt: int | None
    detail: Mapping[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": format_timestamp(self.at),
            "run_id": self.run_id,
            "task_id": self.task_id,
            "type": self.type.value,
            "attempt": self.attempt,
            "detail": dict(self.detail),
        }


class RunSink(Protocol):
    """Where a run's record and events go as they happen (the store plugs in here).

    ``save_run`` is called when the run starts and once more with the final record, after
    every event has gone through ``add_events`` (in ``seq`` order, in batches). An
    exception raised here ends the run (no task starts if the first ``save_run`` fails;
    later, the run is cancelled and compensated) and is raised to the caller as itself;
    the sink is not called again. See :mod:`._executor`.
    """

    async def save_run(self, record: RunRecord) -> None: ...

    async def add_events(self, events: Sequence[Event]) -> None: ...


class EventLog:
    """Every event of one run, in order; readers follow it without ever missing one."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._closed = False
        self._wakeup: anyio.Event | None = None
        self._closing: anyio.Event | None = None
        """Set on close, for readers that pace themselves (made by the first one)."""

    def append(self, event: Event) -> None:
        self._events.append(event)
        if self._wakeup is not None:
            self._wake()

    def close(self) -> None:
        self._closed = True
        self._wake()
        if self._closing is not None:
            self._closing.set()

    def since(self, count: int) -> Sequence[Event]:
        """The events after the first ``count``, for a reader that keeps its own place."""
        return self._events[count:]

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()
            self._wakeup = None

    async def follow(self, *, every_s: float = 0.0) -> AsyncIterator[Sequence[Event]]:
        """Yield the events in batches, from the first one, until the log is closed.

        ``every_s``: hand a batch over at most once per ``every_s`` seconds (counted
        from when the previous one was handed over), so a busy run gives fewer, larger
        batches; what is left when the log closes comes at once."""
        seen = 0
        while True:
            if seen < len(self._events):
                batch = self._events[seen:]
                seen += len(batch)
                handed = anyio.current_time() if every_s else 0.0
                yield batch
                if every_s and not self._closed:
                    await self._until_closed(handed + every_s)
            elif self._closed:
                return
            else:
                if self._wakeup is None:
                    self._wakeup = anyio.Event()
                await self._wakeup.wait()

    async def _until_closed(self, deadline: float) -> None:
        """Wait until ``deadline`` (the event loop's clock) or until the log closes."""
        delay = deadline - anyio.current_time()
        if delay > 0:
            if self._closing is None:
                self._closing = anyio.Event()
            with anyio.move_on_after(delay):
                await self._closing.wait()
