"""Read a plan from a file, stdin or text into a JSON document, without trusting it.

Every failure is a :class:`~planexec.schemas.Problem` (``invalid_json`` or
``plan_too_large``), never an exception, except a missing file or unreadable path, which
is the caller's usage error (:class:`PlanSourceError`). Nothing reads more than
``limits.max_bytes + 1`` bytes, nesting is measured by a linear scan before any parser
(json and PyYAML recurse) sees the text, and YAML is turned into plain JSON values.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from pathlib import Path
from typing import IO, Any

import yaml

from planexec.schemas import ErrorCode, Problem

from ._limits import Limits

__all__ = ["PlanSourceError", "load_plan", "parse_plan_text"]

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DELTA = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class PlanSourceError(OSError):
    """The plan source cannot be read at all (missing file, a directory, ...)."""


def _problem(code: ErrorCode, message: str, hint: str, **detail: Any) -> Problem:
    return Problem(code=code, path="", message=message, hint=hint, detail=detail)


def _too_large(limits: Limits) -> Problem:
    return _problem(
        ErrorCode.PLAN_TOO_LARGE,
        f"the plan is larger than {limits.max_bytes} bytes",
        "split the goal into smaller plans, or raise the byte limit",
        limit_bytes=limits.max_bytes,
    )


def _too_deep(depth: int, limits: Limits) -> Problem:
    return _problem(
        ErrorCode.PLAN_TOO_LARGE,
        f"the plan nests objects/arrays deeper than {limits.max_depth} levels",
        "flatten the parameters, or raise the depth limit",
        limit_depth=limits.max_depth,
        depth_seen=depth,
    )


def _bracket_depth(data: bytes) -> int:
    """Maximum nesting of JSON brackets outside strings, in linear time (C-level loops)."""
    brackets = _JSON_STRING.sub(b'""', data).translate(None, _NOT_BRACKETS)
    return max(itertools.accumulate(map(_DELTA.__getitem__, brackets)), default=0)


def _read(stream: IO[bytes], limits: Limits) -> bytes:
    return stream.read(limits.max_bytes + 1)


def load_plan(source: str, limits: Limits | None = None) -> tuple[Any | None, list[Problem]]:
    """Read ``source`` (a .json/.yaml/.yml path, or ``-`` for stdin) into a document.

    Returns ``(document, [])`` or ``(None, problems)``. Raises PlanSourceError when the
    path cannot be opened.
    """
    limits = limits or Limits()
    if source == "-":
        data = _read(sys.stdin.buffer, limits)
        fmt = None
    else:
        path = Path(source)
        try:
            with path.open("rb") as stream:
                data = _read(stream, limits)
        except OSError as error:
            raise PlanSourceError(f"cannot read plan {source!r}: {error.strerror or error}") from None
        suffix = path.suffix.lower()
        fmt = "yaml" if suffix in (".yaml", ".yml") else "json" if suffix == ".json" else None
    return parse_plan_text(data, fmt, limits)


def parse_plan_text(
    data: bytes | str, fmt: str | None = None, limits: Limits | None = None, *, trusted_json: bool = False
) -> tuple[Any | None, list[Problem]]:
    """Parse plan text as ``json``, ``yaml`` or (``None``) whichever it looks like.

    ``trusted_json``: the text came from ``json.dumps`` of a dict, so it cannot hold
    duplicate keys and the (slower) duplicate check is skipped.
    """
    limits = limits or Limits()
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > limits.max_bytes:
        return None, [_too_large(limits)]
    if b"\x00" in raw:
        return None, [
            _problem(
                ErrorCode.INVALID_JSON,
                "the plan is binary data, not text",
                "send a JSON or YAML PlanObject",
                offset=raw.index(b"\x00"),
            )
        ]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return None, [
            _problem(
                ErrorCode.INVALID_JSON,
                "the plan is not UTF-8 text",
                "send a JSON or YAML PlanObject encoded as UTF-8",
                offset=error.start,
            )
        ]
    if not text.strip():
        return None, [_problem(ErrorCode.INVALID_JSON, "the plan is empty", "send a PlanObject")]
    depth = _bracket_depth(raw)
    if depth > limits.max_depth:
        return None, [_too_deep(depth, limits)]
    if fmt is None:
        fmt = "json" if text.lstrip()[:1] in ("{", "[") else "yaml"
    return _parse_json(text, trusted_json) if fmt == "json" else _parse_yaml(text, limits)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


class _DuplicateKey(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NotJson(name)


class _NotJson(ValueError):
    pass


def _parse_json(text: str, trusted: bool = False) -> tuple[Any | None, list[Problem]]:
    try:
        if trusted:
            return json.loads(text), []
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant), []
    except _NotJson as error:
        return None, [
            _problem(
                ErrorCode.INVALID_JSON,
                f"invalid JSON: {error.args[0]} is not a JSON value",
                "use null or a finite number",
            )
        ]
    except json.JSONDecodeError as error:
        return None, [
            _problem(
                ErrorCode.INVALID_JSON,
                f"invalid JSON: {error.msg}",
                "send one complete JSON object",
                line=error.lineno,
                column=error.colno,
                offset=error.pos,
            )
        ]
    except _DuplicateKey as error:
        return None, [
            _problem(
                ErrorCode.INVALID_JSON,
                f"duplicate object key {error.args[0]!r}",
                "every key (and task id) may appear once",
                key=error.args[0],
            )
        ]
    except RecursionError:
        return None, [
            _problem(ErrorCode.PLAN_TOO_LARGE, "the plan nests too deeply to parse", "flatten the parameters")
        ]


def _parse_yaml(text: str, limits: Limits) -> tuple[Any | None, list[Problem]]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = {"line": mark.line + 1, "column": mark.column + 1} if mark is not None else {}
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]
        return None, [
            _problem(
                ErrorCode.INVALID_JSON,
                f"invalid YAML: {reason}",
                "send one YAML mapping (or JSON object)",
                **where,
            )
        ]
    except RecursionError:
        return None, [
            _problem(ErrorCode.PLAN_TOO_LARGE, "the plan nests too deeply to parse", "flatten the parameters")
        ]
    return to_json_values(document, limits)


def to_json_values(document: Any, limits: Limits) -> tuple[Any | None, list[Problem]]:
    """Copy a loaded document into plain JSON values, iteratively, bounding depth and size.

    Mapping keys become strings; dates and other YAML scalars become their string form;
    shared (aliased) nodes are copied, and the copy counts against ``max_values``.
    """
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any, int]] = [(document, root, 0, 0)]
    count = 0
    while stack:
        node, parent, slot, depth = stack.pop()
        count += 1
        if count > limits.max_values:
            return None, [
                _problem(
                    ErrorCode.PLAN_TOO_LARGE,
                    f"the plan holds more than {limits.max_values} values",
                    "send a smaller plan",
                    limit_values=limits.max_values,
                )
            ]
        if depth > limits.max_depth:
            return None, [_too_deep(depth, limits)]
        if isinstance(node, dict):
            copy: dict[str, Any] = {}
            parent[slot] = copy
            for key, value in node.items():
                copy[str(key) if not isinstance(key, bool) else str(key).lower()] = None
                stack.append(
                    (value, copy, str(key) if not isinstance(key, bool) else str(key).lower(), depth + 1)
                )
        elif isinstance(node, list | tuple):
            items: list[Any] = [None] * len(node)
            parent[slot] = items
            stack.extend((value, items, index, depth + 1) for index, value in enumerate(node))
        elif node is None or isinstance(node, bool | int | float | str):
            parent[slot] = node
        else:
            parent[slot] = str(node)
    return root[0], []
