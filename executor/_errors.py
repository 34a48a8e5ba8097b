"""Error objects of run records (DESIGN §5).

Every failure in a run record is an :class:`ErrorInfo` ``{code, message, retryable,
detail}``. Codes::

    RunErrorCode
      ├─ from a tool call      timeout, tool_error, transport_error,
      │                        invalid_arguments, tool_not_permitted
      ├─ before the call       bad_reference (a ``$<...>`` path that does not exist)
      └─ from the run          upstream_failed, cancelled, deadline_exceeded

``retryable`` says whether the executor would retry that failure: timeouts (unless the
tool is not idempotent and the task does not opt in), transport errors, and tool errors
the tool flagged retryable. The others never are.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from planexec.registry import ToolCallError

__all__ = ["ErrorInfo", "RunErrorCode", "error_from_tool_call", "is_retryable"]


class RunErrorCode(StrEnum):
    TIMEOUT = "timeout"
    TOOL_ERROR = "tool_error"
    TRANSPORT_ERROR = "transport_error"
    BAD_REFERENCE = "bad_reference"
    INVALID_ARGUMENTS = "invalid_arguments"
    TOOL_NOT_PERMITTED = "tool_not_permitted"
    UPSTREAM_FAILED = "upstream_failed"
    CANCELLED = "cancelled"
    DEADLINE_EXCEEDED = "deadline_exceeded"


class ErrorInfo(BaseModel):
    """A failure as run records and events show it."""

    model_config = ConfigDict(frozen=True)

    code: RunErrorCode
    message: str
    retryable: bool = False
    detail: dict[str, Any] = Field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def is_retryable(code: RunErrorCode, *, flagged: bool, retry_timeouts: bool) -> bool:
    """Whether a failure with ``code`` is retried.

    ``flagged`` is the tool's own verdict (a retryable ``tool_error``); ``retry_timeouts``
    is False for a tool that is not idempotent unless the task says ``retry_after_timeout``.
    """
    if code is RunErrorCode.TIMEOUT:
        return retry_timeouts
    if code is RunErrorCode.TRANSPORT_ERROR:
        return True
    if code is RunErrorCode.TOOL_ERROR:
        return flagged
    return False


def error_from_tool_call(error: ToolCallError, *, retry_timeouts: bool) -> ErrorInfo:
    code = RunErrorCode(error.code.value)
    retryable = is_retryable(code, flagged=error.retryable, retry_timeouts=retry_timeouts)
    return ErrorInfo(code=code, message=error.message, retryable=retryable, detail=error.detail)
