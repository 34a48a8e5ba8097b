"""Validation problems: the stable codes of DESIGN §4 and the problem record.

A :class:`Problem` is what validation reports, for errors and warnings alike. Problems
are plain data so they travel unchanged to the CLI (``--json``), to MCP clients and back
to a planner LLM as repair feedback.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ErrorCode", "Problem", "WarningCode", "json_pointer"]


class ErrorCode(StrEnum):
    """Stable codes of validation errors (DESIGN §4)."""

    INVALID_JSON = "invalid_json"
    SCHEMA_VIOLATION = "schema_violation"
    INVALID_TASK_ID = "invalid_task_id"
    UNKNOWN_DEPENDENCY = "unknown_dependency"
    SELF_DEPENDENCY = "self_dependency"
    CYCLE = "cycle"
    INVALID_REFERENCE = "invalid_reference"
    UNKNOWN_REFERENCE_TARGET = "unknown_reference_target"
    UNKNOWN_TOOL = "unknown_tool"
    TOOL_NOT_PERMITTED = "tool_not_permitted"
    INVALID_ARGUMENTS = "invalid_arguments"
    UNKNOWN_HANDLER = "unknown_handler"
    INVALID_HANDLER = "invalid_handler"
    PLAN_TOO_LARGE = "plan_too_large"


class WarningCode(StrEnum):
    """Stable codes of validation warnings (DESIGN §4)."""

    IMPLICIT_DEPENDENCY = "implicit_dependency"
    NORMALIZED_REFERENCE = "normalized_reference"
    ASSIGNED_PLAN_ID = "assigned_plan_id"
    CONVERTED_FORMAT = "converted_format"


class Problem(BaseModel):
    """One validation error or warning.

    ``path`` is a JSON Pointer (RFC 6901) into the plan as submitted (after format
    conversion); ``""`` is the whole document.
    """

    model_config = ConfigDict(frozen=True)

    code: ErrorCode | WarningCode
    path: str
    message: str
    hint: str = ""
    detail: dict[str, Any] = Field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _escape(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def json_pointer(*tokens: str | int) -> str:
    """Build a JSON Pointer from path tokens: ``json_pointer("tasks", "a/b")`` is
    ``/tasks/a~1b``."""
    return "".join("/" + _escape(t) for t in tokens)
