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

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, SerializerFunctionWrapHandler, model_serializer
from pydantic.dataclasses import dataclass

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
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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


# Per-task records are frozen pydantic dataclasses with slots: validated like models, but
# one object each instead of three, which halves the garbage collector's work on a run of
# thousands of tasks. RunRecord, the top, is a model: ``model_dump(mode="json")``.
@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptRecord:
    """One call of a tool: its arguments and either its output or its error."""

    n: int
    arguments: dict[str, Any]
    output: Any = None
    error: ErrorInfo | None = None
    started_at: Timestamp
    finished_at: Timestamp

    @property
    def succeeded(self) -> bool:
        return self.error is None

    @model_serializer(mode="wrap")
    def _output_or_error(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        data.pop("output" if self.error is not None else "error", None)
        return data


@dataclass(frozen=True, slots=True, kw_only=True)
class CompensationRecord:
    status: CompensationStatus
    attempts: list[AttemptRecord]
    started_at: Timestamp
    finished_at: Timestamp | None = None
    error: ErrorInfo | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskRecord:
    status: TaskStatus
    attempts: list[AttemptRecord]
    output: Any = None
    error: ErrorInfo | None = None
    handled_by: str | None = None
    compensation: CompensationRecord | None = None


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
