"""The planner's prompt: what the model is shown, its version and hash, and trimming."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import pytest

from planexec.planner import PROMPT_VERSION, extract_json, validate_plan
from planexec.planner._prompt import (
    _render,
    _templates,
    completed_outputs,
    estimate_tokens,
    plan_prompt,
    rank_tools,
    repair_message,
    replan_prompt,
)
from planexec.registry import Catalog, ToolSpec
from planexec.schemas import ErrorCode, PlanObject, Problem


def filler_tools(n: int) -> list[ToolSpec]:
    """``n`` unrelated tools with realistic, sizeable schemas."""
    topics = ["invoice", "calendar", "weather", "ticket", "inventory", "payroll", "shipment", "survey"]
    specs = []
    for i in range(n):
        topic = topics[i % len(topics)]
        specs.append(
            ToolSpec(
                name=f"{topic}_op_{i}",
                description=f"Operation {i} on the {topic} system: reads or updates {topic} records.",
                input_schema={
                    "type": "object",
                    "properties": {
                        f"{topic}_id": {"type": "string", "description": f"id of the {topic}"},
                        "fields": {"type": "array", "items": {"type": "string"}},
                        "limit": {"type": "integer", "minimum": 1, "maximum": 100},
                    },
                    "required": [f"{topic}_id"],
                },
                output_schema={"type": "object", "properties": {"items": {"type": "array"}}},
            )
        )
    return specs


def test_the_worked_example_is_a_valid_plan_over_the_demo_tools(demo_tools: Catalog) -> None:
    system = _templates(PROMPT_VERSION)["system"]
    example = extract_json(system[system.index("# Example") :])
    result = validate_plan({**example, "inputs": {"x": 7}}, demo_tools)
    assert result.valid, result.errors
    assert result.plan is not None
    roots = [task_id for task_id, task in result.plan.tasks.items() if not task.dependencies]
    assert {"sum", "product"} <= set(roots)  # the example shows parallel roots


def test_the_prompt_shows_goal_context_inputs_and_every_tool(demo_tools: Catalog) -> None:
    specs = demo_tools.specs()
    prompt = plan_prompt(
        "double the input", specs, context={"unit": "meters"}, inputs={"x": 21, "label": "length"}
    )
    system, user = prompt.messages
    assert (system["role"], user["role"]) == ("system", "user")
    assert system["content"] == _render("system")
    content = user["content"]
    assert "double the input" in content
    assert json.dumps({"unit": "meters"}, separators=(",", ":")) in content
    assert "- x: 21" in content and '- label: "length"' in content
    lines = [json.loads(line) for line in content.splitlines() if line.startswith('{"name":')]
    assert [entry["name"] for entry in lines] == [spec.name for spec in specs]
    for entry, spec in zip(lines, specs, strict=True):
        assert entry["input_schema"] == spec.input_schema
        assert entry["output_schema"] == spec.output_schema
        assert entry["description"] == spec.description
    assert prompt.trimmed_tools == 0
    assert prompt.tools_shown == tuple(spec.name for spec in specs)


def test_version_and_hash_identify_the_rendered_messages(demo_tools: Catalog) -> None:
    specs = demo_tools.specs()
    prompt = plan_prompt("add two numbers", specs)
    assert prompt.version == PROMPT_VERSION == "plan.v1"
    canonical = json.dumps(
        [{"role": m["role"], "content": m["content"]} for m in prompt.messages],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    assert prompt.hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert plan_prompt("add two numbers", specs).hash == prompt.hash
    assert plan_prompt("add three numbers", specs).hash != prompt.hash


def test_long_input_values_and_context_are_truncated(demo_tools: Catalog) -> None:
    prompt = plan_prompt("echo it", demo_tools.specs(), context="c" * 50_000, inputs={"blob": "x" * 10_000})
    content = prompt.messages[1]["content"]
    assert "x" * 10_000 not in content and "x" * 300 in content
    assert "c" * 50_000 not in content and "c" * 8_000 in content
    assert estimate_tokens(content) < 5_000


def test_a_big_catalog_is_trimmed_by_relevance_and_the_prompt_says_so(demo_tools: Catalog) -> None:
    specs = filler_tools(300) + demo_tools.specs()
    budget = 6_000
    prompt = plan_prompt("write the weekly weather summary to the ledger", specs, budget_tokens=budget)
    assert 0 < prompt.trimmed_tools < len(specs)
    assert len(prompt.tools_shown) + prompt.trimmed_tools == len(specs)
    assert "ledger_write" in prompt.tools_shown
    weather = [spec.name for spec in specs if spec.name.startswith("weather_")]
    assert set(weather) <= set(prompt.tools_shown)  # every relevant filler tool made it
    assert prompt.tools_shown == tuple(s.name for s in specs if s.name in prompt.tools_shown)  # catalog order
    assert sum(estimate_tokens(m["content"]) for m in prompt.messages) <= budget
    note = _render("trimmed", left_out=str(prompt.trimmed_tools), total=str(len(specs)))
    assert note in prompt.messages[1]["content"]


def test_a_catalog_within_budget_is_not_trimmed(demo_tools: Catalog) -> None:
    specs = demo_tools.specs()
    prompt = plan_prompt("add", specs, budget_tokens=100_000)
    note = _render("trimmed", left_out="0", total=str(len(specs)))
    assert prompt.trimmed_tools == 0
    assert note.splitlines()[0] not in prompt.messages[1]["content"]


def test_at_least_one_tool_is_shown_whatever_the_budget(demo_tools: Catalog) -> None:
    prompt = plan_prompt("multiply numbers", demo_tools.specs(), budget_tokens=10)
    assert prompt.tools_shown == ("multiply",)


def test_tools_rank_by_name_before_description() -> None:
    by_name = ToolSpec(name="send_email", description="Deliver a message.")
    by_description = ToolSpec(name="notify", description="Send an email or a text message.")
    unrelated = ToolSpec(name="add", description="Return a + b.")
    ranked = rank_tools([unrelated, by_description, by_name], "send an email to my boss")
    assert [s.name for s in ranked] == ["send_email", "notify", "add"]


def test_the_repair_message_carries_every_error() -> None:
    errors = [
        Problem(code=ErrorCode.UNKNOWN_TOOL, path="/tasks/a/tool_name", message="unknown tool 'x'", hint="h"),
        Problem(
            code=ErrorCode.CYCLE, path="/tasks/b", message="cycle b -> c -> b", detail={"cycle": ["b", "c"]}
        ),
    ]
    message = repair_message(errors)
    assert message["role"] == "user"
    listed = json.loads(
        message["content"][message["content"].index("[\n") : message["content"].index("\n]") + 2]
    )
    assert listed == [
        {"code": "unknown_tool", "path": "/tasks/a/tool_name", "message": "unknown tool 'x'", "hint": "h"},
        {"code": "cycle", "path": "/tasks/b", "message": "cycle b -> c -> b", "hint": ""},
    ]


PLAN = PlanObject.model_validate(
    {
        "goal": "sum, then write",
        "inputs": {"x": 2},
        "tasks": {
            "sum": {"tool_name": "add", "parameters": {"a": "$<inputs.x>", "b": 3}, "dependencies": []},
            "safe": {
                "tool_name": "fail",
                "parameters": {"message": "boom"},
                "dependencies": [],
                "error_handling": {"on_error": "rescue"},
            },
            "rescue": {"tool_name": "echo", "parameters": {"value": 1}, "dependencies": []},
            "broken": {"tool_name": "fail", "parameters": {"message": "disk full"}, "dependencies": ["sum"]},
            "write": {
                "tool_name": "ledger_write",
                "parameters": {"key": "k", "value": "$<broken.output.result>"},
                "dependencies": ["broken"],
            },
        },
    }
)

RECORD: dict[str, Any] = {
    "run_id": "run-1",
    "plan_id": PLAN.plan_id,
    "status": "failed",
    "error": {"code": "tool_error", "message": "task broken failed"},
    "tasks": {
        "sum": {"status": "succeeded", "output": {"result": 5}, "attempts": []},
        "safe": {"status": "recovered", "output": {"result": 1}, "handled_by": "rescue", "attempts": []},
        "rescue": {"status": "succeeded", "output": {"result": 1}, "attempts": []},
        "broken": {
            "status": "failed",
            "error": {"code": "tool_error", "message": "disk full", "retryable": False},
            "attempts": [],
        },
        "write": {"status": "skipped", "attempts": []},
    },
}


def test_completed_outputs_are_succeeded_and_recovered_tasks() -> None:
    assert completed_outputs(PLAN, RECORD) == {
        "sum": {"result": 5},
        "safe": {"result": 1},
        "rescue": {"result": 1},
    }


def test_compensated_tasks_are_not_complete() -> None:
    record: Mapping[str, Any] = {**RECORD, "tasks": {**RECORD["tasks"], "sum": {"status": "compensated"}}}
    assert "sum" not in completed_outputs(PLAN, record)


def test_a_replan_keeps_what_earlier_replans_completed() -> None:
    earlier = PLAN.model_copy(update={"inputs": {"x": 2, "completed": {"old": {"result": 9}}}})
    assert completed_outputs(earlier, RECORD) == {"old": {"result": 9}, **completed_outputs(PLAN, RECORD)}


def test_the_replan_prompt_shows_outcomes_completed_outputs_and_errors(demo_tools: Catalog) -> None:
    prompt = replan_prompt("sum, then write", PLAN, RECORD, demo_tools.specs())
    content = prompt.messages[1]["content"]
    completed = "\n".join(
        f"- {task_id}: {json.dumps(output, separators=(',', ':'))}"
        for task_id, output in completed_outputs(PLAN, RECORD).items()
    )
    assert _render("completed", completed=completed) in content
    failed = '- broken: {"code":"tool_error","message":"disk full","retryable":false}'
    assert _render("failed", failed=failed) in content
    assert "- write (ledger_write): skipped" in content
    shown = extract_json(content[content.index("Previous plan:") :])
    restored = {**shown, "inputs": PLAN.inputs, "plan_id": PLAN.plan_id}
    assert "plan_id" not in shown
    assert PlanObject.model_validate(restored) == PLAN  # only defaults, inputs and the id left out
    assert "- x: 2" in content  # the original inputs are still plan inputs
    assert prompt.version == PROMPT_VERSION


@pytest.mark.parametrize("status", ["failed", "cancelled"])
def test_the_replan_prompt_names_the_run_and_its_status(demo_tools: Catalog, status: str) -> None:
    prompt = replan_prompt("g", PLAN, {**RECORD, "status": status}, demo_tools.specs())
    head = _render(
        "replan", run_id="run-1", status=status, plan="", outcomes="", completed="", failed=""
    ).splitlines()[0]
    assert prompt.messages[1]["content"].startswith(head)
