from __future__ import annotations

import copy
from typing import Any

import pytest

from planexec.registry import Catalog, demo_source


@pytest.fixture(scope="session")
def demo_tools() -> Catalog:
    return Catalog([demo_source()])


GOOD_PLAN: dict[str, Any] = {
    "plan_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "goal": "add two numbers, double the sum, write it down",
    "inputs": {"x": 2},
    "tasks": {
        "sum": {"tool_name": "add", "parameters": {"a": "$<inputs.x>", "b": 3}, "dependencies": []},
        "double": {
            "tool_name": "multiply",
            "parameters": {"a": "$<sum.output.result>", "b": 2},
            "dependencies": ["sum"],
            "error_handling": {"on_error": "fallback"},
        },
        "fallback": {"tool_name": "echo", "parameters": {"value": "$<double.error>"}, "dependencies": []},
        "note": {
            "tool_name": "ledger_write",
            "parameters": {"key": "total", "value": "total=$<double.output.result>"},
            "dependencies": ["double"],
            "compensation": {"tool_name": "ledger_delete", "parameters": {"key": "$<note.output.key>"}},
        },
    },
    "output": "$<note.output>",
}


@pytest.fixture
def good_plan() -> dict[str, Any]:
    return copy.deepcopy(GOOD_PLAN)
