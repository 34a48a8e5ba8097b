"""Validate a PlanObject: every check of DESIGN §4, all problems at once.

Pipeline (each stage reports into one list; a stage that cannot run safely on what the
earlier ones found is skipped, never the report):

1. shape and limits — a JSON object within ``Limits`` (depth is checked iteratively
   first, because jsonschema and pydantic recurse);
2. node form (``nodes``/``edges``) converted to the canonical form;
3. foreign references normalised (warnings); ``plan_id`` assigned when absent;
4. structure — pydantic (fast) and, only when it rejects, jsonschema for the error list;
5. semantics (``_semantics``) — task ids, dependencies, references, handlers, cycles;
6. tools and arguments (``_arguments``) against the caller's ToolView.

On success the returned plan lists every dependency that references imply.
"""

from __future__ import annotations

import gc
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.exceptions import best_match
from pydantic import ValidationError

from planexec.registry import ToolView
from planexec.schemas import (
    ErrorCode,
    PlanObject,
    Problem,
    WarningCode,
    convert_node_form,
    is_node_form,
    json_pointer,
    normalize_references,
    plan_json_schema,
)

from ._arguments import check_tools
from ._limits import Limits
from ._loading import parse_plan_text
from ._references import find_references
from ._semantics import check_semantics

__all__ = ["ValidationResult", "validate_plan"]

# Anything the normaliser might rewrite: ${...}, {"$ref": ...}, $name. A superset is fine.
_FOREIGN_REFERENCE = re.compile(r'\$\{|"\$ref"|\$[A-Za-z_]')

_SCHEMA_HINTS = {
    "required": "add the missing field",
    "additionalProperties": "remove the field, or check its spelling",
    "type": "use the JSON type the schema expects",
    "pattern": "ids: letters, digits, _ and -, starting with a letter or _, at most 64",
    "enum": "use one of the allowed values",
    "minProperties": "a plan needs at least one task",
}


@dataclass
class ValidationResult:
    """The verdict: ``plan`` is the normalised plan when ``valid``, else None."""

    valid: bool
    plan: PlanObject | None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "plan": self.plan.to_json() if self.plan is not None else None,
            "errors": [p.as_json() for p in self.errors],
            "warnings": [p.as_json() for p in self.warnings],
        }


def _fail(errors: list[Problem], warnings: list[Problem] | None = None) -> ValidationResult:
    return ValidationResult(False, None, errors, warnings or [])


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic GC: validation allocates many small acyclic objects, and on
    large plans collector passes over them cost ~20 % of the time. Cycles made meanwhile
    are collected once it resumes; a collector already paused stays paused."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def validate_plan(
    document: Any, tools: ToolView | None = None, limits: Limits | None = None
) -> ValidationResult:
    """Validate a plan given as parsed JSON (or as JSON/YAML text).

    ``tools`` is the caller's view of the registry; without it tool and argument checks
    are skipped. Never raises on bad input: every problem is in the result.
    """
    with _collector_paused():
        return _validate(document, tools, limits)


def _validate(document: Any, tools: ToolView | None, limits: Limits | None) -> ValidationResult:
    limits = limits or Limits()
    trusted = not isinstance(document, str | bytes)
    if trusted:
        document, problems = _as_json_text(document, limits)
        if problems:
            return _fail(problems)
    text = document if isinstance(document, str) else document.decode("utf-8", "replace")
    document, problems = parse_plan_text(document, "json" if trusted else None, limits, trusted_json=trusted)
    if problems:
        return _fail(problems)
    if not isinstance(document, dict):
        return _fail(
            [
                Problem(
                    code=ErrorCode.SCHEMA_VIOLATION,
                    path="",
                    message=f"a plan is a JSON object, not {_json_type(document)}",
                    hint='send {"tasks": {...}}',
                )
            ]
        )

    errors: list[Problem] = []
    warnings: list[Problem] = []
    if is_node_form(document):
        document, conversion_errors, conversion_warnings = convert_node_form(document)
        errors += conversion_errors
        warnings += conversion_warnings

    tasks = document.get("tasks")
    if isinstance(tasks, dict) and len(tasks) > limits.max_tasks:
        return _fail(
            [
                *errors,
                Problem(
                    code=ErrorCode.PLAN_TOO_LARGE,
                    path="/tasks",
                    message=f"the plan has {len(tasks)} tasks, over the limit of {limits.max_tasks}",
                    hint="split the goal into smaller plans, or raise the task limit",
                    detail={"tasks": len(tasks), "limit_tasks": limits.max_tasks},
                ),
            ],
            warnings,
        )
    task_ids = list(tasks) if isinstance(tasks, dict) else []
    if _FOREIGN_REFERENCE.search(text):  # most plans hold only $<...>: skip the walk
        warnings += normalize_references(document, set(task_ids))
    if "plan_id" not in document:
        document["plan_id"] = str(uuid.uuid4())
        warnings.append(
            Problem(
                code=WarningCode.ASSIGNED_PLAN_ID,
                path="/plan_id",
                message=f"assigned plan_id {document['plan_id']}",
                detail={"plan_id": document["plan_id"]},
            )
        )

    structured, structure_errors = _structure(document)
    errors += structure_errors
    references = find_references(document)
    semantic_errors, semantic_warnings, dependencies = check_semantics(document, references)
    errors += semantic_errors
    warnings += semantic_warnings
    if tools is not None:
        errors += check_tools(document, tools, references)

    if errors:
        return _fail(_dedupe(errors), warnings)
    assert structured is not None  # no errors: the structure stage built the model
    return ValidationResult(True, _with_dependencies(structured, dependencies), [], warnings)


def _as_json_text(document: Any, limits: Limits) -> tuple[str, list[Problem]]:
    """Data given by a library caller, as compact JSON text: the one path through
    ``parse_plan_text`` then bounds size and depth, and the parse is a private copy."""
    try:
        return json.dumps(document, separators=(",", ":"), allow_nan=False, default=str), []
    except RecursionError:
        return "", [
            Problem(
                code=ErrorCode.PLAN_TOO_LARGE,
                path="",
                message="the plan nests too deeply",
                hint="flatten the parameters",
                detail={"limit_depth": limits.max_depth},
            )
        ]
    except (TypeError, ValueError) as error:
        return "", [
            Problem(
                code=ErrorCode.INVALID_JSON,
                path="",
                message=f"the plan is not JSON data: {error}",
                hint="use JSON values only: objects with string keys, arrays, strings, "
                "finite numbers, booleans, null",
            )
        ]


def _structure(document: dict[str, Any]) -> tuple[PlanObject | None, list[Problem]]:
    """Schema check; pydantic decides, jsonschema explains (they agree by test)."""
    try:
        return PlanObject.model_validate(document), []
    except ValidationError:
        return None, [_schema_problem(error) for error in _schema_errors(document)]


def _with_dependencies(plan: PlanObject, dependencies: dict[str, list[str]]) -> PlanObject:
    """``plan`` with every task listing the dependencies its references imply."""
    tasks = {
        task_id: task
        if task.dependencies == dependencies[task_id]
        else task.model_copy(update={"dependencies": dependencies[task_id]})
        for task_id, task in plan.tasks.items()
    }
    return plan.model_copy(update={"tasks": tasks})


def _schema_errors(document: dict[str, Any]) -> Iterator[SchemaError]:
    validator = _validator()
    return iter(sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path]))


_VALIDATOR: list[Draft202012Validator] = []


def _validator() -> Draft202012Validator:
    if not _VALIDATOR:
        _VALIDATOR.append(Draft202012Validator(plan_json_schema()))
    return _VALIDATOR[0]


def _schema_problem(error: SchemaError) -> Problem:
    if error.context:
        # anyOf [X, null]: the null branch's complaint says nothing useful about a non-null value.
        useful = [e for e in error.context if not (e.validator == "type" and e.validator_value == "null")]
        error = best_match(useful or error.context)
    path = list(error.absolute_path)
    name_error = "propertyNames" in error.absolute_schema_path
    if name_error and path[:1] == ["tasks"] and len(path) == 1:
        task_id = error.instance
        return Problem(
            code=ErrorCode.INVALID_TASK_ID,
            path=json_pointer("tasks", str(task_id)),
            message=f"invalid task id {task_id!r}",
            hint="task ids match ^[A-Za-z_][A-Za-z0-9_-]{0,63}$ and 'inputs' is reserved",
            detail={"task_id": task_id},
        )
    at_dependency = len(path) >= 3 and path[0] == "tasks" and path[2] == "dependencies"
    if at_dependency and error.validator in ("pattern", "not"):
        return Problem(
            code=ErrorCode.UNKNOWN_DEPENDENCY,
            path=json_pointer(*path),
            message=f"dependency {error.instance!r} is not a valid task id",
            hint="list ids of tasks of this plan",
        )
    message = error.message if len(error.message) <= 300 else error.message[:297] + "..."
    return Problem(
        code=ErrorCode.SCHEMA_VIOLATION,
        path=json_pointer(*path),
        message=message,
        hint=_SCHEMA_HINTS.get(str(error.validator), "see plan.schema.json"),
        detail={"validator": str(error.validator)},
    )


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str, str]] = set()
    out: list[Problem] = []
    for problem in problems:
        key = (problem.code, problem.path, problem.message)
        if key not in seen:
            seen.add(key)
            out.append(problem)
    return out


def _json_type(value: Any) -> str:
    return {
        list: "an array",
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "a boolean",
        type(None): "null",
    }.get(type(value), type(value).__name__)
