"""Pydantic models of the canonical PlanObject v1 (DESIGN §2).

They agree with ``plan.schema.json`` (a test feeds one corpus through both). Models are
frozen: a validated plan is a value. Untrusted input goes through
:func:`planexec.planner.validate_plan`, which reports every problem at once; constructing
these models directly raises pydantic's ``ValidationError`` on the first bad field group.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

__all__ = [
    "RESERVED_TASK_IDS",
    "TASK_ID_PATTERN",
    "TOOL_NAME_PATTERN",
    "UUID_PATTERN",
    "Compensation",
    "ErrorHandling",
    "OnFailure",
    "PlanObject",
    "RetryPolicy",
    "Task",
]

TASK_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
TOOL_NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def _integral(value: Any) -> Any:
    # JSON Schema counts 3.0 as an integer; so do we, to agree with plan.schema.json.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


JsonInt = Annotated[int, BeforeValidator(_integral)]
RESERVED_TASK_IDS = frozenset({"inputs"})


def _not_reserved(value: str) -> str:
    if value in RESERVED_TASK_IDS:
        raise ValueError(f"{value!r} is reserved (it is the root of $<inputs...> references)")
    return value


TaskId = Annotated[str, StringConstraints(pattern=TASK_ID_PATTERN), AfterValidator(_not_reserved)]
ToolName = Annotated[str, StringConstraints(pattern=TOOL_NAME_PATTERN)]
PositiveSeconds = Annotated[float, Field(gt=0, le=86_400)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class OnFailure(StrEnum):
    ABORT = "abort"
    CONTINUE = "continue"


class RetryPolicy(_Frozen):
    """Retry policy of one task; the defaults follow LangGraph/Temporal practice."""

    max_attempts: Annotated[JsonInt, Field(ge=1, le=100)] = 3
    initial_delay_s: Annotated[float, Field(ge=0, le=3600)] = 0.5
    backoff: Annotated[float, Field(ge=1, le=10)] = 2.0
    max_delay_s: Annotated[float, Field(ge=0, le=3600)] = 10.0
    jitter: bool = True


class ErrorHandling(_Frozen):
    on_error: TaskId | None = None


class Compensation(_Frozen):
    """The undo call of a task that succeeded; runs only when an aborting run unwinds."""

    tool_name: ToolName
    parameters: dict[str, Any] = Field(default_factory=dict)
    timeout_s: PositiveSeconds | None = None


class Task(_Frozen):
    tool_name: ToolName
    description: str = ""
    parameters: dict[str, Any]
    dependencies: list[TaskId]
    timeout_s: PositiveSeconds | None = None
    retry: RetryPolicy | None = None
    retry_after_timeout: bool = False
    error_handling: ErrorHandling | None = None
    compensation: Compensation | None = None

    @property
    def on_error(self) -> str | None:
        return self.error_handling.on_error if self.error_handling else None


class PlanObject(_Frozen):
    """A plan: a DAG of tool calls. ``tasks`` keeps the submitted order."""

    version: Annotated[JsonInt, Field(ge=1, le=1)] = 1
    plan_id: Annotated[str, StringConstraints(pattern=UUID_PATTERN)] = Field(
        default_factory=lambda: str(uuid.uuid4())
    )
    goal: str = ""
    inputs: dict[str, Any] = Field(default_factory=dict)
    max_concurrency: Annotated[JsonInt, Field(ge=1, le=10_000)] | None = None
    timeout_s: PositiveSeconds | None = None
    # Lax for this one field: strict mode wants an OnFailure instance in Python input, and
    # plans arrive as JSON-decoded dicts holding the plain string.
    on_failure: Annotated[OnFailure, Field(strict=False)] = OnFailure.ABORT
    tasks: Annotated[dict[TaskId, Task], Field(min_length=1)]
    output: Any = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The canonical JSON form (what ``--json`` prints and the store keeps)."""
        return self.model_dump(mode="json", exclude_none=True)
