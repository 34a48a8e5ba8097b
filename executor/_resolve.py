"""Run-time references (DESIGN §3): ``$<...>`` substitution and task outputs.

- A string that is exactly one reference becomes the referenced value, keeping its JSON
  type. A reference inside a longer string is interpolated: strings as they are, other
  values as compact JSON. ``$$<`` is a literal ``$<``. Only values are resolved, never
  object keys.
- A reference whose root is not available (a task without output) or whose path does not
  exist raises :class:`BadReference`; its :class:`ErrorInfo` (code ``bad_reference``,
  never retried) names the reference, the step that is missing and the keys that exist.
- A task's output is the tool result's structured content when present; otherwise a
  single text block, parsed as JSON when it parses, else the text; otherwise the list of
  content blocks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from planexec.registry import ToolResult
from planexec.schemas import Ref, format_ref, parse_template

from ._errors import ErrorInfo, RunErrorCode

__all__ = ["BadReference", "RootLookup", "extract_output", "resolve", "to_json_text"]

RootLookup = Callable[[Ref], Any]
"""Returns the value a reference's root names (inputs, a task's output or error), or
raises BadReference when there is none."""


class BadReference(Exception):
    """A reference that cannot be resolved; ``error`` is what the run record shows."""

    def __init__(self, ref: Ref, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.error = ErrorInfo(
            code=RunErrorCode.BAD_REFERENCE,
            message=message,
            retryable=False,
            detail={"reference": format_ref(ref), **detail},
        )


def to_json_text(value: Any) -> str:
    """How a non-string value reads inside a longer string: compact JSON."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


_MAX_KEYS_SHOWN = 50
_JSON_TYPE_NAMES = {str: "a string", bool: "a boolean", int: "a number", float: "a number"}


def _describe(value: Any) -> tuple[str, list[str]]:
    """What a value is, for a message, and the keys it has when it is an object."""
    if isinstance(value, dict):
        return "an object", sorted(map(str, value))[:_MAX_KEYS_SHOWN]
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)", []
    if value is None:
        return "null", []
    return _JSON_TYPE_NAMES.get(type(value), f"a {type(value).__name__}"), []


def _follow(ref: Ref, root: Any) -> Any:
    value = root
    for depth, step in enumerate(ref.path):
        if isinstance(step, str) and isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(step, int) and isinstance(value, list) and step < len(value):
            value = value[step]
        else:
            where = format_ref(Ref(ref.kind, ref.task, ref.path[:depth]))
            shape, available = _describe(value)
            wanted = f"[{step}]" if isinstance(step, int) else f".{step}"
            hint = f"; it has {', '.join(available)}" if available else ""
            raise BadReference(
                ref,
                f"{format_ref(ref)}: {where} is {shape} without {wanted}{hint}",
                missing=step,
                at=where,
                available=available,
            )
    return value


def _resolve_string(text: str, lookup: RootLookup) -> Any:
    if "$<" not in text:
        return text
    template = parse_template(text)
    whole = template.whole
    if whole is not None:
        return _follow(whole, lookup(whole))
    pieces: list[str] = []
    for part in template.parts:
        if isinstance(part, str):
            pieces.append(part)
        else:
            value = _follow(part, lookup(part))
            pieces.append(value if isinstance(value, str) else to_json_text(value))
    return "".join(pieces)


def resolve(value: Any, lookup: RootLookup) -> Any:
    """``value`` with every reference replaced; raises BadReference on the first that fails."""
    if isinstance(value, str):
        return _resolve_string(value, lookup)
    if isinstance(value, dict):
        return {key: resolve(item, lookup) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, lookup) for item in value]
    return value


def extract_output(result: ToolResult) -> Any:
    if result.structured_content is not None:
        return result.structured_content
    blocks = result.content
    if len(blocks) == 1 and blocks[0].get("type") == "text":
        text = blocks[0].get("text", "")
        try:
            return json.loads(text)
        except ValueError:
            return text
    return list(blocks)
