"""Validation limits: safe defaults, all configurable."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds a plan must stay within before any deeper check runs.

    ``max_bytes`` bounds the plan's text (or its compact JSON when given as data);
    ``max_depth`` bounds nesting of objects and arrays anywhere in the document;
    ``max_values`` bounds the number of JSON values (guards YAML alias bombs).
    """

    max_tasks: int = 1_000
    max_bytes: int = 1 << 20
    max_depth: int = 64
    max_values: int = 1_000_000
