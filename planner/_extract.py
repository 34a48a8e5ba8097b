"""Find the plan in what a model wrote: bare JSON, JSON in code fences, JSON amid prose.

Models asked for "one JSON object" still wrap it in ```json fences, put a sentence
before or after it, or show a draft and then the real plan. :func:`extract_json` looks,
in order, at:

1. the whole text (after stripping whitespace);
2. each fenced block (```json, ```JSON, ``` or ~~~), in order;
3. each ``{`` in the text, decoding one JSON value from there.

The first object that looks like a plan (has ``tasks`` or ``nodes``, the node form)
wins; else the first object that is the whole text or a whole fenced block (an object
found by the scan of step 3 may be a fragment of a broken one, so it must look like a
plan to count). Nothing found raises
:class:`JSONExtractionError` whose ``problem`` (code ``invalid_json``) goes back to the
model with the validation errors, so a malformed answer is repaired like any other.
Trailing commas and comments are not repaired: the model is asked to fix them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from planexec.schemas import ErrorCode, Problem

__all__ = ["JSONExtractionError", "extract_json"]

_FENCE = re.compile(r"(?:```|~~~)[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|~~~)", re.DOTALL)
_DECODER = json.JSONDecoder()
# Bounds the scan of step 3 on adversarial text (thousands of stray braces).
_MAX_OBJECT_STARTS = 200
_PLAN_KEYS = ("tasks", "nodes")


class JSONExtractionError(ValueError):
    """No JSON object in the text; ``problem`` is the ``invalid_json`` repair feedback."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def extract_json(text: str) -> dict[str, Any]:
    """The plan object in ``text`` (see the module docstring for the search order)."""
    first_object: dict[str, Any] | None = None
    first_error: json.JSONDecodeError | None = None
    for candidate, error, whole in _candidates(text):
        if error is not None:
            first_error = first_error or error
            continue
        if not isinstance(candidate, dict):
            continue
        if any(key in candidate for key in _PLAN_KEYS):
            return candidate
        if first_object is None and whole:
            first_object = candidate
    if first_object is not None:
        return first_object
    raise JSONExtractionError(_problem(text, first_error))


def _candidates(text: str) -> Iterator[tuple[Any, json.JSONDecodeError | None, bool]]:
    """(value, decode error, whether the value was a whole text or fenced block)."""
    stripped = text.strip()
    if not stripped:
        return
    yield (*_loads(stripped), True)
    for match in _FENCE.finditer(text):
        body = match.group(2).strip()
        if body:
            yield (*_loads(body), True)
    position = text.find("{")
    starts = 0
    while position != -1 and starts < _MAX_OBJECT_STARTS:
        starts += 1
        try:
            value, end = _DECODER.raw_decode(text, position)
        except json.JSONDecodeError as error:
            yield None, error, False
            position = text.find("{", position + 1)
        else:
            yield value, None, False
            position = text.find("{", end)  # an object inside this one is part of it


def _loads(text: str) -> tuple[Any, json.JSONDecodeError | None]:
    try:
        return json.loads(text), None
    except json.JSONDecodeError as error:
        return None, error


def _problem(text: str, error: json.JSONDecodeError | None) -> Problem:
    if not text.strip():
        message = "the answer was empty"
        detail: dict[str, Any] = {}
    elif error is not None:
        where = f"line {error.lineno} column {error.colno}"
        message = f"no JSON object could be read from the answer: {error.msg} at {where}"
        detail = {"line": error.lineno, "column": error.colno, "position": error.pos}
    else:
        message = "the answer holds no JSON object"
        detail = {}
    return Problem(
        code=ErrorCode.INVALID_JSON,
        path="",
        message=message,
        hint='answer with exactly one JSON object {"tasks": {...}, ...}: double-quoted keys and '
        "strings, no comments, no trailing commas, nothing before or after it",
        detail=detail,
    )
