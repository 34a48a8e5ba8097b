"""Tool checks: known and permitted tools, and arguments against their schemas.

Literal parameters are validated with jsonschema against the tool's input schema. A value
holding references is only partly known before the run:

- a whole-value reference (``"$<t.output.rows>"``) is checked against the output schema
  of ``t``'s tool, where one is declared: the path must exist there, and its type must
  fit the parameter's type;
- an interpolated string is a string of unknown content: only ``type`` errors count.

Validators are compiled once per tool per call of :func:`check_tools`.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterable
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from planexec.registry import ToolSpec, ToolView
from planexec.schemas import ErrorCode, Problem, Ref, RefKind, json_pointer

from ._references import Found, References

__all__ = ["check_tools"]


class _Placeholder:
    """Stands in for a reference's value; jsonschema treats it as matching no type."""


def check_tools(document: dict[str, Any], tools: ToolView, references: References) -> list[Problem]:
    tasks = document.get("tasks")
    if not isinstance(tasks, dict):
        return []
    checker = _ToolChecker(tasks, tools)
    for task_id, task in tasks.items():
        if not isinstance(task, dict):
            continue
        found = references.parameters.get(task_id, [])
        checker.call(("tasks", task_id), task.get("tool_name"), task.get("parameters"), found)
        compensation = task.get("compensation")
        if isinstance(compensation, dict):
            checker.call(
                ("tasks", task_id, "compensation"),
                compensation.get("tool_name"),
                compensation.get("parameters", {}),
                references.compensation.get(task_id, []),
            )
    return checker.problems


class _ToolChecker:
    def __init__(self, tasks: dict[str, Any], tools: ToolView) -> None:
        self.tasks = tasks
        self.tools = tools
        self.problems: list[Problem] = []
        self.validators: dict[tuple[str, frozenset[str]], Draft202012Validator | None] = {}
        self.recovered = {
            task_id
            for task_id, t in tasks.items()
            if isinstance(t, dict)
            and isinstance(t.get("error_handling"), dict)
            and t["error_handling"].get("on_error")
        }

    def add(
        self, code: ErrorCode, where: tuple[str | int, ...], message: str, hint: str, **detail: Any
    ) -> None:
        self.problems.append(
            Problem(code=code, path=json_pointer(*where), message=message, hint=hint, detail=detail)
        )

    def spec(self, where: tuple[str | int, ...], name: Any) -> ToolSpec | None:
        if not isinstance(name, str):
            return None
        spec = self.tools.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, sorted(s.name for s in self.tools.specs()), n=3)
            hint = (
                f"did you mean {', '.join(repr(c) for c in close)}?"
                if close
                else "list the tools to see names"
            )
            self.add(ErrorCode.UNKNOWN_TOOL, (*where, "tool_name"), f"unknown tool {name!r}", hint, tool=name)
            return None
        if not self.tools.is_permitted(name):
            self.add(
                ErrorCode.TOOL_NOT_PERMITTED,
                (*where, "tool_name"),
                f"tool {name!r} is not permitted for this caller",
                "use a tool your tenant and scopes allow",
                tool=name,
            )
            return None
        return spec

    def validator(self, spec: ToolSpec, absent: frozenset[str] = frozenset()) -> Draft202012Validator | None:
        """The input-schema validator of ``spec``; with ``absent``, one that does not
        require those top-level parameters (they hold whole-value references)."""
        key = (spec.name, absent)
        if key not in self.validators:
            schema = spec.input_schema
            if absent and isinstance(schema.get("required"), list):
                schema = {**schema, "required": [r for r in schema["required"] if r not in absent]}
            self.validators[key] = _compiled(json.dumps(schema, sort_keys=True, separators=(",", ":")))
        return self.validators[key]

    def call(self, where: tuple[str | int, ...], tool_name: Any, parameters: Any, found: Found) -> None:
        spec = self.spec(where, tool_name)
        if spec is None or not isinstance(parameters, dict):
            return
        whole, interpolated = _split(found)
        base = (*where, "parameters")
        if all(len(location) == 1 for location in whole):
            # Common case: whole references only at the top level. Leave them out of the
            # probe and out of "required"; nothing is left to filter.
            absent = frozenset(str(location[0]) for location in whole)
            validator = self.validator(spec, absent)
            probe = {k: v for k, v in parameters.items() if k not in absent} if absent else parameters
        else:
            validator = self.validator(spec)
            probe = _copy_with(parameters, whole)
        if validator is None:
            return
        if interpolated or not validator.is_valid(probe):
            self.argument_errors(base, spec, validator, probe, whole, interpolated)
        for location, ref in whole.items():
            self.whole_reference((*base, *location), ref, spec, location)
        for location, refs in interpolated.items():
            for ref in refs:
                self.produced((*base, *location), ref)

    def argument_errors(
        self,
        base: tuple[str | int, ...],
        spec: ToolSpec,
        validator: Draft202012Validator,
        probe: Any,
        whole: dict[tuple[str | int, ...], Ref],
        interpolated: dict[tuple[str | int, ...], tuple[Ref, ...]],
    ) -> None:
        for error in validator.iter_errors(probe):
            location = tuple(error.absolute_path)
            if any(location[: len(w)] == w for w in whole):
                continue
            if location in interpolated and error.validator != "type":
                continue  # an interpolated string's content is unknown until the run
            if error.context:
                error = best_match(error.context)
            self.add(
                ErrorCode.INVALID_ARGUMENTS,
                (*base, *location),
                f"{spec.name}: {_short(error.message)}",
                _argument_hint(spec, str(error.validator)),
                tool=spec.name,
                validator=str(error.validator),
            )

    def produced(self, where: tuple[str | int, ...], ref: Ref) -> tuple[bool, dict[str, Any] | None]:
        """Check ``ref``'s path against its source tool's output schema; return (ok, the
        schema of the referenced value when known)."""
        if ref.kind is not RefKind.OUTPUT or ref.task is None or ref.task in self.recovered:
            return True, None  # a recovered task's output is its handler's: not one schema
        source_task = self.tasks.get(ref.task)
        if not isinstance(source_task, dict) or not isinstance(source_task.get("tool_name"), str):
            return True, None
        source = self.tools.get(source_task["tool_name"])
        if source is None or source.output_schema is None:
            return True, None
        schema, missing = _walk(source.output_schema, ref.path)
        if missing is not None:
            self.add(
                ErrorCode.INVALID_REFERENCE,
                where,
                f"{ref} reads {missing!r}, which the output of {source.name!r} does not have",
                _fields_hint(source.output_schema, ref.path),
                reference=str(ref),
                tool=source.name,
            )
            return False, None
        return True, schema

    def whole_reference(
        self, where: tuple[str | int, ...], ref: Ref, spec: ToolSpec, location: tuple[str | int, ...]
    ) -> None:
        ok, produced = self.produced(where, ref)
        if not ok:
            return
        expected, _ = _walk(spec.input_schema, location)
        have, want = _types(produced), _types(expected)
        if have and want and not any(_accepts(want, t) for t in have):
            self.add(
                ErrorCode.INVALID_ARGUMENTS,
                where,
                f"{spec.name} expects {' or '.join(sorted(want))} here, but {ref} is "
                f"{' or '.join(sorted(have))}",
                "reference a field of the right type, or convert it with another task",
                tool=spec.name,
                expected=sorted(want),
                got=sorted(have),
            )


@functools.lru_cache(maxsize=1024)
def _compiled(schema_text: str) -> Draft202012Validator | None:
    """A validator for a tool's input schema, checked against the meta-schema once per
    distinct schema (the check costs ~1 ms; servers validate plans on every request).
    Keyed by the schema's canonical text, so a changed tool never reuses a stale one."""
    schema = json.loads(schema_text)
    try:
        Draft202012Validator.check_schema(schema)
    except Exception:  # a broken tool schema is the tool's problem, not the plan's
        return None
    return Draft202012Validator(schema)


def _split(
    found: Found,
) -> tuple[dict[tuple[str | int, ...], Ref], dict[tuple[str | int, ...], tuple[Ref, ...]]]:
    """(whole-value references by location, references of interpolated strings by location)."""
    whole: dict[tuple[str | int, ...], Ref] = {}
    interpolated: dict[tuple[str | int, ...], tuple[Ref, ...]] = {}
    for location, template in found:
        if isinstance(template, Exception):
            continue
        if template.whole is not None:
            whole[location] = template.whole
        else:
            interpolated[location] = template.refs
    return whole, interpolated


def _copy_with(parameters: dict[str, Any], whole: Iterable[tuple[str | int, ...]]) -> dict[str, Any]:
    """A copy of ``parameters`` with a placeholder at each location; only the containers
    on the way to a location are copied."""
    probe = dict(parameters)
    for location in whole:
        node: Any = probe
        for token in location[:-1]:
            child = node[token]
            child = dict(child) if isinstance(child, dict) else list(child)
            node[token] = child
            node = child
        node[location[-1]] = _Placeholder()
    return probe


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/") and seen < 32:
        node: Any = root
        for token in schema["$ref"][2:].split("/"):
            node = node.get(token.replace("~1", "/").replace("~0", "~"), {}) if isinstance(node, dict) else {}
        schema = node if isinstance(node, dict) else {}
        seen += 1
    return schema


def _walk(root: dict[str, Any], path: Iterable[str | int]) -> tuple[dict[str, Any] | None, str | int | None]:
    """The subschema at ``path``: (schema, None); (None, token) when the schema says the
    token cannot exist; (None, None) when the schema does not tell."""
    schema = _resolve(root, root)
    for token in path:
        if isinstance(token, int):
            items = schema.get("items")
            if not isinstance(items, dict):
                return None, None
            schema = _resolve(items, root)
            continue
        properties = schema.get("properties", {})
        if isinstance(properties, dict) and token in properties:
            schema = _resolve(properties[token], root)
        elif isinstance(schema.get("additionalProperties"), dict):
            schema = _resolve(schema["additionalProperties"], root)
        elif schema.get("additionalProperties") is False and not schema.get("patternProperties"):
            return None, token
        else:
            return None, None
    return schema, None


def _types(schema: dict[str, Any] | None) -> set[str]:
    if not schema:
        return set()
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {t for t in declared if isinstance(t, str)}
    branches = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(branches, list):
        out: set[str] = set()
        for branch in branches:
            types = _types(branch) if isinstance(branch, dict) else set()
            if not types:
                return set()  # one branch of unknown type: anything goes
            out |= types
        return out
    return set()


def _accepts(want: set[str], have: str) -> bool:
    return have in want or (have == "integer" and "number" in want)


def _short(message: str) -> str:
    return message if len(message) <= 300 else message[:297] + "..."


def _argument_hint(spec: ToolSpec, validator: str) -> str:
    required = spec.input_schema.get("required", [])
    props = sorted(spec.input_schema.get("properties", {}))
    if validator in ("required", "additionalProperties"):
        return f"{spec.name} takes {', '.join(props) or 'no parameters'}" + (
            f" (required: {', '.join(required)})" if required else ""
        )
    return f"see the input schema of {spec.name}"


def _fields_hint(schema: dict[str, Any], path: tuple[str | int, ...]) -> str:
    parent, _ = _walk(schema, path[:-1])
    fields = sorted((parent or {}).get("properties", {}))
    return f"available fields: {', '.join(fields)}" if fields else "check the tool's output schema"
