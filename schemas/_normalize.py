"""Rewrite the reference syntaxes LLMs write into canonical ``$<...>`` references.

Accepted, each only where it is unambiguous, each rewrite reported as a
``normalized_reference`` warning:

- ``${task.output.key}``, ``${task.error}``, ``${task}`` and ``${input.x}`` /
  ``${inputs.x}`` (the seeds' form), for a ``task`` that exists in the plan;
- ``{"$ref": "tasks.task.outputs.key"}`` (also ``tasks.task.output``, ``inputs.x``) as a
  whole parameter value;
- LLMCompiler's ``$task`` for a task id of the plan, matched on the whole identifier (so
  ``$1`` never rewrites inside ``$15``, and a literal ``$2`` with no task ``2`` is left
  alone).

Anything else is left as it is for validation to judge. The walk is iterative.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any

from ._problems import Problem, WarningCode, json_pointer

__all__ = ["normalize_references"]

_KEY = r"[A-Za-z0-9_-]+"
_PATH = rf"(?:\.{_KEY}|\[\d+\])*"
_DOLLAR_BRACE = re.compile(rf"(?<!\$)\$\{{\s*([A-Za-z_][A-Za-z0-9_-]*)({_PATH})\s*\}}")
_DOLLAR_BARE = re.compile(rf"(?<![$<\w])\$([A-Za-z_][A-Za-z0-9_-]*)({_PATH})(?![A-Za-z0-9_{{<-])")
_DOTTED_REF = re.compile(rf"^(tasks\.)?([A-Za-z_][A-Za-z0-9_-]*)((?:\.{_KEY}|\[\d+\])*)$")
_OUTPUT_WORD = re.compile(r"^\.(outputs?|error)(?=\.|\[|$)")


def _canonical(head: str, tail: str, task_ids: Collection[str]) -> str | None:
    """``head`` + ``tail`` (``.output.rows[0]``) as a canonical reference, or None."""
    if head in ("input", "inputs"):
        return f"$<inputs{tail}>"
    if head not in task_ids:
        return None
    match = _OUTPUT_WORD.match(tail)
    if match is None:
        return f"$<{head}.output{tail}>"
    field = "error" if match.group(1) == "error" else "output"
    return f"$<{head}.{field}{tail[match.end() :]}>"


def _dollar_ref(spec: str, task_ids: Collection[str]) -> str | None:
    match = _DOTTED_REF.match(spec.strip())
    if match is None:
        return None
    tasks_prefix, head, tail = match.groups()
    if tasks_prefix and head in ("input", "inputs"):
        return None
    return _canonical(head, tail, task_ids)


def normalize_references(plan: dict[str, Any], task_ids: Collection[str]) -> list[Problem]:
    """Rewrite foreign references in place in task parameters, compensation parameters
    and the plan ``output``; return one warning per rewritten value."""
    warnings: list[Problem] = []
    roots: list[tuple[tuple[str | int, ...], Any, str | int]] = []
    tasks = plan.get("tasks")
    if isinstance(tasks, dict):
        for task_id, task in tasks.items():
            if not isinstance(task, dict):
                continue
            roots.append((("tasks", task_id), task, "parameters"))
            if isinstance(task.get("compensation"), dict):
                roots.append((("tasks", task_id, "compensation"), task["compensation"], "parameters"))
    if "output" in plan:
        roots.append(((), plan, "output"))

    def rewrite_string(text: str) -> str:
        def brace(match: re.Match[str]) -> str:
            return _canonical(match.group(1), match.group(2), task_ids) or match.group(0)

        def bare(match: re.Match[str]) -> str:
            if match.group(1) in ("input", "inputs"):
                return match.group(0)  # "$input" alone is prose, not a reference
            return _canonical(match.group(1), match.group(2), task_ids) or match.group(0)

        if "$" not in text:
            return text
        return _DOLLAR_BARE.sub(bare, _DOLLAR_BRACE.sub(brace, text))

    for base, container, key in roots:
        if key not in container:
            continue  # a missing field is the schema report's business
        _walk(base, container, key, task_ids, rewrite_string, warnings)
    return warnings


def _walk(
    base: tuple[str | int, ...],
    container: Any,
    key: str | int,
    task_ids: Collection[str],
    rewrite_string: Callable[[str], str],
    warnings: list[Problem],
) -> None:
    stack: list[tuple[tuple[str | int, ...], Any, str | int]] = [((*base, key), container, key)]
    while stack:
        location, parent, slot = stack.pop()
        value = parent[slot]
        new: Any = value
        if isinstance(value, str):
            new = rewrite_string(value)
        elif isinstance(value, dict):
            if set(value) == {"$ref"} and isinstance(value["$ref"], str):
                new = _dollar_ref(value["$ref"], task_ids) or value
            if new is value:
                stack.extend(((*location, k), value, k) for k in value)
                continue
        elif isinstance(value, list):
            stack.extend(((*location, i), value, i) for i in range(len(value)))
            continue
        if new is not value and new != value:
            parent[slot] = new
            warnings.append(
                Problem(
                    code=WarningCode.NORMALIZED_REFERENCE,
                    path=json_pointer(*location),
                    message=f"rewrote {_show(value)} to {new!r}",
                    hint="write references as $<task.output.path>",
                    detail={"from": value, "to": new},
                )
            )
    warnings.sort(key=lambda p: p.path)


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else f"{value}"
