"""The plan language: PlanObject models, its JSON Schema, references, problems.

Imports nothing else of planexec.
"""

from ._models import (
    RESERVED_TASK_IDS,
    TASK_ID_PATTERN,
    TOOL_NAME_PATTERN,
    Compensation,
    ErrorHandling,
    OnFailure,
    PlanObject,
    RetryPolicy,
    Task,
)
from ._node_form import convert_node_form, is_node_form
from ._normalize import normalize_references
from ._problems import ErrorCode, Problem, WarningCode, json_pointer
from ._refs import (
    Ref,
    ReferenceSyntaxError,
    RefKind,
    Template,
    format_ref,
    format_template,
    iter_refs,
    parse_template,
)
from ._schema import plan_json_schema

__all__ = [
    "RESERVED_TASK_IDS",
    "TASK_ID_PATTERN",
    "TOOL_NAME_PATTERN",
    "Compensation",
    "ErrorCode",
    "ErrorHandling",
    "OnFailure",
    "PlanObject",
    "Problem",
    "Ref",
    "RefKind",
    "ReferenceSyntaxError",
    "RetryPolicy",
    "Task",
    "Template",
    "WarningCode",
    "convert_node_form",
    "format_ref",
    "format_template",
    "is_node_form",
    "iter_refs",
    "json_pointer",
    "normalize_references",
    "parse_template",
    "plan_json_schema",
]
