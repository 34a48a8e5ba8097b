"""normalize_references: foreign reference syntaxes rewritten to $<...>, only when unambiguous."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from planexec.schemas import Problem, WarningCode, normalize_references, parse_template

TASK_IDS = ("fetch", "t1", "t15", "extract-data", "summary")


def make_plan(parameters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    tasks: dict[str, Any] = {
        task_id: {"tool_name": "echo", "parameters": {}, "dependencies": []} for task_id in TASK_IDS
    }
    tasks["summary"]["parameters"] = parameters
    return {"tasks": tasks, **extra}


def normalize(plan: dict[str, Any]) -> list[Problem]:
    tasks = plan.get("tasks")
    return normalize_references(plan, set(tasks) if isinstance(tasks, dict) else set())


REWRITES: list[tuple[str, Any, str]] = [
    ("dollar_brace_output_path", "${fetch.output.rows}", "$<fetch.output.rows>"),
    ("dollar_brace_outputs_plural", "${fetch.outputs.rows}", "$<fetch.output.rows>"),
    ("dollar_brace_task_only", "${fetch}", "$<fetch.output>"),
    ("dollar_brace_path_without_output_word", "${fetch.rows[0]}", "$<fetch.output.rows[0]>"),
    ("dollar_brace_error", "${fetch.error}", "$<fetch.error>"),
    ("dollar_brace_error_path", "${fetch.error.message}", "$<fetch.error.message>"),
    ("dollar_brace_spaces", "${ fetch.output }", "$<fetch.output>"),
    ("dollar_brace_dashed_id", "${extract-data.output}", "$<extract-data.output>"),
    ("dollar_brace_input", "${input.quarter}", "$<inputs.quarter>"),
    ("dollar_brace_inputs", "${inputs.quarter}", "$<inputs.quarter>"),
    ("dollar_brace_inputs_whole", "${inputs}", "$<inputs>"),
    ("dollar_brace_interpolated", "Rows: ${fetch.output.rows}!", "Rows: $<fetch.output.rows>!"),
    ("two_rewrites_in_one_string", "${fetch} and ${t1}", "$<fetch.output> and $<t1.output>"),
    ("adjacent_braces", "${t1}${t15}", "$<t1.output>$<t15.output>"),
    ("dollar_ref_outputs_key", {"$ref": "tasks.fetch.outputs.sales"}, "$<fetch.output.sales>"),
    ("dollar_ref_output", {"$ref": "tasks.fetch.output"}, "$<fetch.output>"),
    ("dollar_ref_without_tasks_prefix", {"$ref": "fetch.outputs.rows[1]"}, "$<fetch.output.rows[1]>"),
    ("dollar_ref_inputs", {"$ref": "inputs.quarter"}, "$<inputs.quarter>"),
    ("llmcompiler_task", "$fetch", "$<fetch.output>"),
    ("llmcompiler_task_output_path", "$fetch.output.rows[0]", "$<fetch.output.rows[0]>"),
    ("llmcompiler_dashed_id", "$extract-data", "$<extract-data.output>"),
    ("llmcompiler_t1_is_not_t15", "$t1 and $t15", "$<t1.output> and $<t15.output>"),
    ("llmcompiler_stops_at_trailing_dot", "see $fetch.output.", "see $<fetch.output>."),
    ("llmcompiler_after_punctuation", "($t1)", "($<t1.output>)"),
    ("mixed_syntaxes", "${fetch.output.rows} and $t1", "$<fetch.output.rows> and $<t1.output>"),
]


@pytest.mark.parametrize(("value", "expected"), [pytest.param(v, e, id=n) for n, v, e in REWRITES])
def test_foreign_reference_is_rewritten_with_one_warning(value: Any, expected: str) -> None:
    plan = make_plan({"x": copy.deepcopy(value)})
    warnings = normalize(plan)
    assert plan["tasks"]["summary"]["parameters"]["x"] == expected
    assert [(w.code, w.path, w.detail) for w in warnings] == [
        (WarningCode.NORMALIZED_REFERENCE, "/tasks/summary/parameters/x", {"from": value, "to": expected})
    ]
    assert parse_template(expected).refs  # the rewrite is canonical and parses


UNTOUCHED: list[tuple[str, Any]] = [
    ("canonical_reference", "$<fetch.output.rows>"),
    ("escaped_canonical", "$$<fetch.output>"),
    ("unknown_task_brace", "${nope.output}"),
    ("unknown_task_bare", "$nope"),
    ("unknown_task_dollar_ref", {"$ref": "tasks.nope.outputs.x"}),
    ("dollar_ref_tasks_inputs", {"$ref": "tasks.inputs.x"}),
    ("dollar_ref_json_pointer", {"$ref": "#/definitions/Task"}),
    ("dollar_ref_with_sibling_keys", {"$ref": "tasks.fetch.outputs.x", "note": "kept"}),
    ("dollar_ref_not_a_string", {"$ref": 3}),
    ("literal_dollar_digit", "costs $2"),
    ("llmcompiler_numbers_are_not_task_ids", "$1 and $15"),
    ("task_id_prefix_only", "$t150 and $fetcher"),
    ("dollar_dollar_task", "$$fetch"),
    ("dollar_dollar_brace", "$${fetch}"),
    ("word_before_dollar", "US$fetch"),
    ("bare_input_is_prose", "$input and $inputs"),
    ("no_dollar", "fetch.output"),
    ("number", 42),
    ("null", None),
]


@pytest.mark.parametrize("value", [pytest.param(v, id=n) for n, v in UNTOUCHED])
def test_ambiguous_or_unknown_syntax_is_left_alone(value: Any) -> None:
    plan = make_plan({"x": copy.deepcopy(value)})
    assert normalize(plan) == []
    assert plan["tasks"]["summary"]["parameters"]["x"] == value


def test_rewrites_in_nested_parameters_report_their_json_pointer() -> None:
    plan = make_plan(
        {
            "list": ["${fetch}", "plain", {"deep": "$t1"}],
            "a/b~c": "${t15.output}",
            "ref": {"inner": {"$ref": "tasks.fetch.outputs.k"}},
        }
    )
    warnings = normalize(plan)
    by_path = {w.path: w.detail["to"] for w in warnings}
    assert by_path == {
        "/tasks/summary/parameters/list/0": "$<fetch.output>",
        "/tasks/summary/parameters/list/2/deep": "$<t1.output>",
        "/tasks/summary/parameters/a~1b~0c": "$<t15.output>",
        "/tasks/summary/parameters/ref/inner": "$<fetch.output.k>",
    }
    assert {w.code for w in warnings} == {WarningCode.NORMALIZED_REFERENCE}
    assert plan["tasks"]["summary"]["parameters"]["ref"] == {"inner": "$<fetch.output.k>"}


def test_compensation_parameters_are_rewritten() -> None:
    plan = make_plan({})
    plan["tasks"]["fetch"]["compensation"] = {"tool_name": "undo", "parameters": {"id": "${fetch.output.id}"}}
    warnings = normalize(plan)
    assert plan["tasks"]["fetch"]["compensation"]["parameters"] == {"id": "$<fetch.output.id>"}
    assert [(w.path, w.detail) for w in warnings] == [
        (
            "/tasks/fetch/compensation/parameters/id",
            {"from": "${fetch.output.id}", "to": "$<fetch.output.id>"},
        )
    ]


@pytest.mark.parametrize(
    ("output", "expected", "path"),
    [
        ("${summary.output}", "$<summary.output>", "/output"),
        ({"$ref": "tasks.summary.outputs.text"}, "$<summary.output.text>", "/output"),
        ({"rows": "$fetch.output.rows"}, {"rows": "$<fetch.output.rows>"}, "/output/rows"),
    ],
)
def test_plan_output_is_rewritten(output: Any, expected: Any, path: str) -> None:
    plan = make_plan({}, output=copy.deepcopy(output))
    warnings = normalize(plan)
    assert plan["output"] == expected
    assert [w.path for w in warnings] == [path]


def test_only_parameters_compensation_and_output_are_rewritten() -> None:
    plan = make_plan({}, goal="use ${fetch}", inputs={"q": "${fetch}"}, metadata={"m": "$t1"})
    plan["tasks"]["fetch"]["description"] = "reads ${t1}"
    before = copy.deepcopy(plan)
    assert normalize(plan) == []
    assert plan == before


def test_unknown_task_is_judged_against_the_given_ids_only() -> None:
    plan = make_plan({"x": "${fetch}"})
    assert normalize_references(plan, {"other"}) == []
    assert plan["tasks"]["summary"]["parameters"]["x"] == "${fetch}"


def test_normalizing_twice_changes_nothing_more() -> None:
    plan = make_plan({"x": "${fetch}", "y": {"$ref": "inputs.q"}}, output="$t1")
    assert len(normalize(plan)) == 3
    once = copy.deepcopy(plan)
    assert normalize(plan) == []
    assert plan == once


@pytest.mark.parametrize(
    "plan",
    [
        {},
        {"tasks": None},
        {"tasks": ["fetch"]},
        {"tasks": {"a": "not a task"}},
        {"tasks": {"a": {"parameters": "not an object"}}},
        {"tasks": {"a": {"parameters": {}, "compensation": "undo"}}},
        {"output": None},
    ],
)
def test_malformed_plans_are_left_for_validation(plan: dict[str, Any]) -> None:
    before = copy.deepcopy(plan)
    assert normalize(plan) == []
    assert plan == before


def test_task_without_parameters_is_skipped() -> None:
    plan: dict[str, Any] = {"tasks": {"a": {"tool_name": "echo", "dependencies": []}}}
    before = copy.deepcopy(plan)
    assert normalize_references(plan, {"a"}) == []
    assert plan == before


def test_deeply_nested_parameters_do_not_recurse() -> None:
    value: Any = "${fetch}"
    for level in range(5_000):
        value = [value] if level % 2 else {"k": value}
    plan = make_plan({"x": value})
    (warning,) = normalize(plan)
    assert warning.path.count("/") == 5_000 + 4
    assert warning.detail == {"from": "${fetch}", "to": "$<fetch.output>"}
