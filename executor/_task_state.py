"""What the scheduler keeps about one task while a run goes on, and its record form."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from planexec.registry import ToolSpec

from ._errors import ErrorInfo
from ._records import (
    UNTOUCHED_TASK,
    AttemptRecord,
    CompensationRecord,
    CompensationStatus,
    TaskRecord,
    TaskStatus,
)

__all__ = ["CompensationState", "TaskState"]


@dataclass(slots=True)
class CompensationState:
    started_at: datetime
    status: CompensationStatus = CompensationStatus.RUNNING
    attempts: list[AttemptRecord] = field(default_factory=list)
    finished_at: datetime | None = None
    error: ErrorInfo | None = None

    def record(self) -> CompensationRecord:
        return CompensationRecord(
            status=self.status,
            attempts=list(self.attempts),
            started_at=self.started_at,
            finished_at=self.finished_at,
            error=self.error,
        )


@dataclass(slots=True)
class TaskState:
    waiting: int
    """Dependencies that have not succeeded (or recovered) yet."""
    status: TaskStatus = TaskStatus.PENDING
    attempts: list[AttemptRecord] = field(default_factory=list)
    output: Any = None
    has_output: bool = False
    error: ErrorInfo | None = None
    handled_by: str | None = None
    compensation: CompensationState | None = None
    spec: ToolSpec | None = None
    """The tool's spec once the task is ready (its slots are counted against it)."""
    requested: bool = False
    """For a handler: the task it handles failed and needs it."""
    awaiting: str | None = None
    """For a failed task: the handler that may still recover it."""
    started: float | None = None
    duration_s: float | None = None
    """Monotonic start and duration of the task's call, retries included."""

    def record(self) -> TaskRecord:
        if (
            self.status is TaskStatus.PENDING
            and not self.attempts
            and self.output is None
            and self.error is None
            and self.handled_by is None
            and self.compensation is None
        ):
            return UNTOUCHED_TASK
        return TaskRecord(
            status=self.status,
            attempts=list(self.attempts),
            output=self.output,
            error=self.error,
            handled_by=self.handled_by,
            compensation=self.compensation.record() if self.compensation else None,
        )
