"""The run record (DESIGN §5): what ``get_run`` and ``planexec run --json`` return.

``record.model_dump(mode="json")`` is the JSON form::

    {run_id, plan_id, status, output, error, started_at, finished_at,
     tasks: {id: {status, attempts: [{n, arguments, output|error, started_at, finished_at}],
                  output, error, handled_by, compensation}}}

``compensation`` is null or ``{status, attempts, started_at, finished_at, error}``. An
attempt carries ``output`` when it succeeded and ``error`` when it failed, never both.
Times are ISO 8601 UTC with microseconds (``2026-01-31T12:00:00.000000Z``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, SerializerFunctionWrapHandler, WrapSerializer

from ._errors import ErrorInfo

__all__ = [
    "AttemptRecord",
    "CompensationRecord",
    "CompensationStatus",
    "RunRecord",
    "RunStatus",
    "TaskRecord",
    "TaskStatus",
    "Timestamp",
    "format_timestamp",
]


def format_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC, always with microseconds."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # isoformat ends a UTC time with "+00:00"; it is about twice as fast as strftime, and
    # a run formats several timestamps per task.
    return value.isoformat(timespec="microseconds")[:-6] + "Z"


Timestamp = Annotated[datetime, PlainSerializer(format_timestamp, return_type=str, when_used="json")]


class TaskStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RECOVERED = "recovered"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    COMPENSATED = "compensated"
    COMPENSATION_FAILED = "compensation_failed"


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class CompensationStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


# The records under RunRecord are plain frozen dataclasses: the executor builds them from
# data it produced itself, thousands per run, so they skip validation at construction
# (about 1 µs each instead of 2.5) and are one object each for the garbage collector.
# RunRecord is the model: it serialises them, and validates them when a record is read
# back from JSON.
@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptRecord:
    """One call of a tool: its arguments and either its output or its error; ``cache``
    is ``hit`` or ``miss`` when the registry's result cache answered or stored it (the
    field is left out otherwise)."""

    n: int
    arguments: dict[str, Any]
    output: Any = None
    error: ErrorInfo | None = None
    started_at: Timestamp
    finished_at: Timestamp
    cache: str | None = None


def _output_or_error(attempt: AttemptRecord, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
    data: dict[str, Any] = handler(attempt)
    data.pop("output" if attempt.error is not None else "error", None)
    if attempt.cache is None:
        data.pop("cache", None)
    return data


_Attempts = list[Annotated[AttemptRecord, WrapSerializer(_output_or_error)]]


@dataclass(frozen=True, slots=True, kw_only=True)
class CompensationRecord:
    status: CompensationStatus
    attempts: _Attempts
    started_at: Timestamp
    finished_at: Timestamp | None = None
    error: ErrorInfo | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskRecord:
    status: TaskStatus
    attempts: _Attempts
    output: Any = None
    error: ErrorInfo | None = None
    handled_by: str | None = None
    compensation: CompensationRecord | None = None


UNTOUCHED_TASK = TaskRecord(status=TaskStatus.PENDING, attempts=[])
"""The record of every task that has not been touched yet (pending, nothing attempted):
one object shared by all of them, so a run's first record costs nothing per task (records
are frozen; nothing appends to their lists)."""


class RunRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: str
    plan_id: str
    status: RunStatus
    output: Any = None
    error: ErrorInfo | None = None
    started_at: Timestamp
    finished_at: Timestamp | None = None
    tasks: dict[str, TaskRecord]
