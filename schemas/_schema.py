"""Access to ``plan.schema.json``, the JSON Schema (2020-12) of PlanObject v1."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

__all__ = ["plan_json_schema"]


@cache
def _text() -> str:
    return files(__package__ or "planexec.schemas").joinpath("plan.schema.json").read_text("utf-8")


def plan_json_schema() -> dict[str, Any]:
    """A fresh copy of the plan schema (callers may not mutate a shared one)."""
    schema: dict[str, Any] = json.loads(_text())
    return schema
