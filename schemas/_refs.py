"""The reference grammar of DESIGN §3, as a small scanner that reports positions.

::

    ref   := "$<" root path* ">"
    root  := TASK_ID ".output" | TASK_ID ".error" | "inputs"
    path  := "." KEY | "[" INT "]"            KEY := [A-Za-z0-9_-]+

A string parameter is a :class:`Template`: literal text and references. ``$$<`` is a
literal ``$<``. ``parse_template`` never raises on well-formed text and raises
:class:`ReferenceSyntaxError` (with the 0-based column) on the first malformed reference;
``format_template(parse_template(s)) == s`` for every string that parses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "INPUTS",
    "Ref",
    "RefKind",
    "ReferenceSyntaxError",
    "Template",
    "format_ref",
    "format_template",
    "iter_refs",
    "parse_template",
]

INPUTS = "inputs"
_ID_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
# Token classes of the scanner (a compiled pattern reads a whole token at C speed).
_KEY_CHARS = re.compile(r"[A-Za-z0-9_-]*")
_DIGITS = re.compile(r"[0-9]*")
_MAX_ID = 64
_MAX_INDEX_DIGITS = 18


class RefKind(StrEnum):
    OUTPUT = "output"
    ERROR = "error"
    INPUTS = "inputs"


@dataclass(frozen=True, slots=True)
class Ref:
    """A parsed ``$<...>`` reference. ``task`` is None for ``inputs``.

    ``start``/``end`` are the span of the reference in its string (``end`` exclusive).
    """

    kind: RefKind
    task: str | None
    path: tuple[str | int, ...] = ()
    start: int = 0
    end: int = 0

    def __str__(self) -> str:
        return format_ref(self)


class ReferenceSyntaxError(ValueError):
    """A malformed ``$<...>`` reference; ``position`` is the 0-based column at fault."""

    def __init__(self, message: str, text: str, position: int) -> None:
        super().__init__(f"{message} at column {position}")
        self.reason = message
        self.text = text
        self.position = position


@dataclass(frozen=True, slots=True)
class Template:
    """Literal strings and references in order; adjacent literals are merged."""

    parts: tuple[str | Ref, ...]

    @property
    def refs(self) -> tuple[Ref, ...]:
        return tuple(p for p in self.parts if isinstance(p, Ref))

    @property
    def whole(self) -> Ref | None:
        """The reference when the string is exactly one reference (typed substitution)."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Ref):
            return self.parts[0]
        return None

    @property
    def is_literal(self) -> bool:
        return not any(isinstance(p, Ref) for p in self.parts)


def format_ref(ref: Ref) -> str:
    root = INPUTS if ref.kind is RefKind.INPUTS else f"{ref.task}.{ref.kind.value}"
    tail = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in ref.path)
    return f"$<{root}{tail}>"


def format_template(template: Template) -> str:
    out: list[str] = []
    for part in template.parts:
        out.append(format_ref(part) if isinstance(part, Ref) else part.replace("$<", "$$<"))
    return "".join(out)


class _Scanner:
    def __init__(self, text: str, start: int) -> None:
        self.text = text
        self.pos = start

    def fail(self, message: str) -> ReferenceSyntaxError:
        return ReferenceSyntaxError(message, self.text, self.pos)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str, what: str) -> None:
        if self.peek() != char:
            found = repr(self.peek()) if self.peek() else "end of text"
            raise self.fail(f"expected {what}, found {found}")
        self.pos += 1

    def take(self, token: re.Pattern[str]) -> str:
        match = token.match(self.text, self.pos)
        assert match is not None  # every token pattern matches the empty string
        self.pos = match.end()
        return match.group()

    def identifier(self) -> str:
        if self.peek() not in _ID_START or not self.peek():
            raise self.fail("expected a task id or 'inputs'")
        begin = self.pos
        name = self.take(_KEY_CHARS)
        if len(name) > _MAX_ID:
            # The column at fault is the first character past the limit.
            raise ReferenceSyntaxError("task id longer than 64 characters", self.text, begin + _MAX_ID)
        return name

    def reference(self, begin: int) -> Ref:
        self.pos = begin + 2  # past "$<"
        name = self.identifier()
        task: str | None
        if name == INPUTS:
            kind, task = RefKind.INPUTS, None
        else:
            self.expect(".", "'.output' or '.error' after the task id")
            field_at = self.pos
            field = self.take(_KEY_CHARS)
            if field not in ("output", "error"):
                raise ReferenceSyntaxError(
                    f"expected 'output' or 'error' after '{name}.', found {field!r}",
                    self.text,
                    field_at,
                )
            kind, task = RefKind(field), name
        path: list[str | int] = []
        while True:
            char = self.peek()
            if char == ">":
                self.pos += 1
                return Ref(kind, task, tuple(path), begin, self.pos)
            if char == ".":
                self.pos += 1
                key = self.take(_KEY_CHARS)
                if not key:
                    raise self.fail("expected a key after '.'")
                path.append(key)
            elif char == "[":
                self.pos += 1
                digits_at = self.pos
                digits = self.take(_DIGITS)
                if not digits:
                    raise self.fail("expected a non-negative integer index after '['")
                # "[01]" would format back as "[1]" (breaking the round trip), and int() refuses
                # more than 4300 digits with a plain ValueError; no list is that long anyway.
                if (len(digits) > 1 and digits[0] == "0") or len(digits) > _MAX_INDEX_DIGITS:
                    raise ReferenceSyntaxError(
                        "an index is a non-negative integer without leading zeros, at most "
                        f"{_MAX_INDEX_DIGITS} digits",
                        self.text,
                        digits_at,
                    )
                self.expect("]", "']'")
                path.append(int(digits))
            elif not char:
                raise self.fail("unterminated reference: missing '>'")
            else:
                raise self.fail(f"unexpected {char!r} in reference")


def parse_template(text: str) -> Template:
    """Split ``text`` into literals and references; raise ReferenceSyntaxError if a
    ``$<`` does not start a well-formed reference."""
    if "$<" not in text:
        return Template((text,) if text else ())
    parts: list[str | Ref] = []
    literal: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        j = text.find("$", i)
        if j < 0:
            literal.append(text[i:])
            break
        literal.append(text[i:j])
        if text.startswith("$$<", j):
            literal.append("$<")
            i = j + 3
        elif text.startswith("$<", j):
            if literal:
                parts.append("".join(literal))
                literal = []
            ref = _Scanner(text, j).reference(j)
            parts.append(ref)
            i = ref.end
        else:
            literal.append("$")
            i = j + 1
    if literal and (joined := "".join(literal)):
        parts.append(joined)
    return Template(tuple(p for p in parts if p != ""))


def iter_refs(
    value: Any,
) -> Iterator[tuple[tuple[str | int, ...], Template | ReferenceSyntaxError]]:
    """Yield (location, template) for every string holding a reference in a JSON value,
    and (location, error) for every string whose ``$<`` is malformed.

    Iterative (an explicit stack), so nesting depth is bounded only by memory; locations
    come out in document order.
    """
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while stack:
        location, node = stack.pop()
        if isinstance(node, str):
            if "$<" in node:
                try:
                    template = parse_template(node)
                except ReferenceSyntaxError as error:
                    yield location, error
                    continue
                if not template.is_literal:
                    yield location, template
        elif isinstance(node, dict):
            for key in reversed(list(node)):
                stack.append(((*location, key), node[key]))
        elif isinstance(node, list):
            for index in range(len(node) - 1, -1, -1):
                stack.append(((*location, index), node[index]))
