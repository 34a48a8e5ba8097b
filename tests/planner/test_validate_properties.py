"""Random and randomly corrupted plans only ever produce structured results."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planexec.planner import validate_plan
from planexec.registry import Catalog, demo_source
from planexec.schemas import ErrorCode, WarningCode

from .conftest import GOOD_PLAN

TOOLS = Catalog([demo_source()])
POINTER = re.compile(r"^(/([^~/]|~[01])*)*$")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["$<", "$<a.output", "$<sum.output.result>", "${x.output}", "$$<", "$sum", "inputs"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def assert_structured(result: Any) -> None:
    assert result.valid == (result.plan is not None)
    assert result.valid == (not result.errors)
    for problem in result.errors:
        assert isinstance(problem.code, ErrorCode)
        assert POINTER.match(problem.path), problem.path
        assert problem.message
    for problem in result.warnings:
        assert isinstance(problem.code, WarningCode)
    json.dumps(result.as_json())


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


@st.composite
def corrupted_plans(draw: st.DrawFn) -> Any:
    plan = copy.deepcopy(GOOD_PLAN)
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(plan)
        path = draw(st.sampled_from(paths))
        if not path:
            return draw(json_values)
        parent = plan
        for token in path[:-1]:
            parent = parent[token]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(json_values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(json_values)
        else:
            parent.append(draw(json_values))
    return plan


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corrupted_plans())
def test_corrupted_plans_give_structured_results(document: Any) -> None:
    assert_structured(validate_plan(document, TOOLS))


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_random_json_gives_structured_results(document: Any) -> None:
    assert_structured(validate_plan(document, TOOLS))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_give_structured_results(data: bytes) -> None:
    assert_structured(validate_plan(data, TOOLS))


@settings(max_examples=100, deadline=None)
@given(corrupted_plans())
def test_a_valid_result_is_a_fixed_point(document: Any) -> None:
    first = validate_plan(document, TOOLS)
    if first.plan is None:
        return
    again = validate_plan(first.plan.to_json(), TOOLS)
    assert again.valid and again.plan == first.plan
    assert [w.code for w in again.warnings] == []
