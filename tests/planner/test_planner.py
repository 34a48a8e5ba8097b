"""The planner's conversation with a scripted LLM: valid at once, repaired, never valid,
JSON wrapped in prose, catalog trimming, and replanning after a real failed run."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

import pytest

from planexec.executor import Executor
from planexec.planner import LLM, LLMError, Planner, PlanningFailed, PlanOutcome, extract_json
from planexec.planner._prompt import _render, plan_prompt
from planexec.registry import Catalog, ToolResult, ToolSpec, demo_source, reset_demo_state
from planexec.schemas import ErrorCode, PlanObject, plan_json_schema

from .scripted_llm import ScriptedLLM
from .test_prompt import filler_tools

pytestmark = pytest.mark.anyio

GOAL = "add 2 and the input x, then double the sum"


def plan_text(tasks: Mapping[str, Any], **top: Any) -> str:
    return json.dumps({"goal": GOAL, **top, "tasks": tasks})


VALID_TASKS = {
    "sum": {"tool_name": "add", "parameters": {"a": 2, "b": "$<inputs.x>"}, "dependencies": []},
    "double": {
        "tool_name": "multiply",
        "parameters": {"a": "$<sum.output.result>", "b": 2},
        "dependencies": ["sum"],
    },
}
VALID = plan_text(VALID_TASKS)

UNKNOWN_TOOL = plan_text({**VALID_TASKS, "sum": {**VALID_TASKS["sum"], "tool_name": "plus"}})
CYCLE = plan_text(
    {
        "sum": {**VALID_TASKS["sum"], "dependencies": ["double"]},
        "double": VALID_TASKS["double"],
    }
)
BAD_REFERENCE = plan_text(
    {**VALID_TASKS, "double": {**VALID_TASKS["double"], "parameters": {"a": "$<sum.output.result", "b": 2}}}
)


def codes(text: str) -> set[str]:
    """The error codes a repair message lists."""
    listed = json.loads(text[text.index("[\n") : text.index("\n]") + 2])
    return {entry["code"] for entry in listed}


async def test_a_valid_answer_is_the_plan_at_once(demo_tools: Catalog) -> None:
    llm = ScriptedLLM([VALID])
    outcome = await Planner(llm).create_plan(GOAL, demo_tools, inputs={"x": 5})

    assert isinstance(llm, LLM)
    assert outcome.rounds == 1 and len(llm.requests) == 1
    assert isinstance(outcome.plan, PlanObject)
    assert set(outcome.plan.tasks) == {"sum", "double"}
    assert outcome.plan.inputs == {"x": 5}
    assert outcome.plan.goal == GOAL
    uuid.UUID(outcome.plan.plan_id)
    assert (outcome.prompt_tokens, outcome.completion_tokens) == (100, 20)
    assert outcome.model == "scripted/planner"
    assert outcome.trimmed_tools == 0
    assert outcome.planner_info() == {
        "model": "scripted/planner",
        "rounds": 1,
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "latency_s": outcome.latency_s,
    }
    assert outcome.latency_s >= 0
    request = llm.requests[0]
    assert request.response_format is not None
    assert request.response_format["type"] == "json_schema"
    sent_schema = request.response_format["json_schema"]["schema"]
    assert sent_schema == {k: v for k, v in plan_json_schema().items() if k not in ("$schema", "$id")}
    assert request.max_tokens == 4096
    expected = plan_prompt(GOAL, demo_tools.specs(), inputs={"x": 5})
    assert request.messages == list(expected.messages)
    assert outcome.prompt_hash == expected.hash and outcome.prompt_version == "plan.v1"


async def test_the_planned_plan_runs(demo_tools: Catalog) -> None:
    outcome = await Planner(ScriptedLLM([VALID])).create_plan(GOAL, demo_tools, inputs={"x": 5})
    record = await Executor(demo_tools).run(outcome.plan)
    assert record.status == "succeeded"
    assert record.tasks["double"].output == {"result": 14}


async def test_the_planner_owns_plan_id_and_inputs(demo_tools: Catalog) -> None:
    copied_id = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
    answer = plan_text(VALID_TASKS, plan_id=copied_id, inputs={"x": 1, "extra": "kept"})
    outcome = await Planner(ScriptedLLM([answer])).create_plan(GOAL, demo_tools, inputs={"x": 5})
    assert outcome.plan.plan_id != copied_id
    assert outcome.plan.inputs == {"x": 5, "extra": "kept"}
    assert not [w for w in outcome.warnings if w.code == "assigned_plan_id"]


async def test_two_plans_get_two_ids(demo_tools: Catalog) -> None:
    planner = Planner(ScriptedLLM([VALID, VALID]))
    first = await planner.create_plan(GOAL, demo_tools, inputs={"x": 1})
    second = await planner.create_plan(GOAL, demo_tools, inputs={"x": 1})
    assert first.plan.plan_id != second.plan.plan_id


async def test_warnings_of_the_valid_plan_are_kept(demo_tools: Catalog) -> None:
    implicit = plan_text({**VALID_TASKS, "double": {**VALID_TASKS["double"], "dependencies": []}})
    outcome = await Planner(ScriptedLLM([implicit])).create_plan(GOAL, demo_tools, inputs={"x": 1})
    assert [w.code for w in outcome.warnings] == ["implicit_dependency"]
    assert outcome.plan.tasks["double"].dependencies == ["sum"]


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (UNKNOWN_TOOL, ErrorCode.UNKNOWN_TOOL),
        (CYCLE, ErrorCode.CYCLE),
        (BAD_REFERENCE, ErrorCode.INVALID_REFERENCE),
        ("I would first add the numbers, then multiply them.", ErrorCode.INVALID_JSON),
    ],
    ids=["unknown_tool", "cycle", "invalid_reference", "invalid_json"],
)
async def test_an_invalid_answer_is_repaired(demo_tools: Catalog, answer: str, code: ErrorCode) -> None:
    llm = ScriptedLLM([answer, VALID])
    outcome = await Planner(llm).create_plan(GOAL, demo_tools, inputs={"x": 5})

    assert outcome.rounds == 2 and len(llm.requests) == 2
    assert (outcome.prompt_tokens, outcome.completion_tokens) == (200, 40)
    first, second = (r.messages for r in llm.requests)
    assert second[: len(first)] == first  # the conversation goes on
    assistant, repair = second[len(first) :]
    assert assistant == {"role": "assistant", "content": answer}
    assert repair["role"] == "user"
    assert code in codes(repair["content"])
    first_round, second_round = outcome.history
    assert code in first_round.error_codes and not first_round.valid
    assert first_round.parsed is (code != ErrorCode.INVALID_JSON)
    assert (second_round.valid, second_round.error_codes) == (True, ())
    assert first_round.as_json()["prompt_tokens"] == 100
    assert outcome.prompt_hash == plan_prompt(GOAL, demo_tools.specs(), inputs={"x": 5}).hash


async def test_the_repair_request_lists_every_error(demo_tools: Catalog) -> None:
    several = plan_text(
        {
            "sum": {**VALID_TASKS["sum"], "tool_name": "plus"},
            "double": {**VALID_TASKS["double"], "dependencies": ["nowhere"]},
            "bad id!": {"tool_name": "echo", "parameters": {"value": 1}, "dependencies": []},
        }
    )
    llm = ScriptedLLM([several, VALID])
    await Planner(llm).create_plan(GOAL, demo_tools, inputs={"x": 5})
    assert {"unknown_tool", "unknown_dependency", "invalid_task_id"} <= codes(
        llm.requests[1].messages[-1]["content"]
    )


@pytest.mark.parametrize("max_repairs", [0, 1, 2, 3])
async def test_never_valid_fails_after_exactly_one_plus_max_repairs_calls(
    demo_tools: Catalog, max_repairs: int
) -> None:
    answers = [UNKNOWN_TOOL, CYCLE, "no plan, sorry", BAD_REFERENCE][: max_repairs + 1]
    llm = ScriptedLLM(list(answers) + [VALID])  # a valid answer it must never ask for
    with pytest.raises(PlanningFailed) as caught:
        await Planner(llm, max_repairs=max_repairs).create_plan(GOAL, demo_tools, inputs={"x": 5})

    failure = caught.value
    assert len(llm.requests) == max_repairs + 1 == failure.rounds
    last_code = {0: "unknown_tool", 1: "cycle", 2: "invalid_json", 3: "invalid_reference"}[max_repairs]
    assert last_code in {str(p.code) for p in failure.errors}
    assert failure.code == "planning_failed"
    assert len(failure.history) == failure.rounds
    assert not any(r.valid for r in failure.history)
    assert (failure.prompt_tokens, failure.completion_tokens) == (100 * failure.rounds, 20 * failure.rounds)
    body = failure.as_json()
    assert body["code"] == "planning_failed"
    assert body["errors"] == [p.as_json() for p in failure.errors]
    assert body["planner"] == {
        "model": "scripted/planner",
        "rounds": max_repairs + 1,
        "prompt_tokens": 100 * (max_repairs + 1),
        "completion_tokens": 20 * (max_repairs + 1),
        "latency_s": failure.latency_s,
    }
    json.dumps(body)


def test_a_negative_repair_budget_is_refused() -> None:
    with pytest.raises(ValueError):
        Planner(ScriptedLLM([]), max_repairs=-1)


@pytest.mark.parametrize(
    "wrap",
    [
        lambda text: f"```json\n{text}\n```",
        lambda text: (
            f"Here is the plan you asked for:\n\n```json\n{text}\n```\nBoth steps use the demo tools."
        ),
        lambda text: f"Plan: {text}\nDone.",
    ],
    ids=["fence", "prose-and-fence", "prose"],
)
async def test_json_wrapped_in_prose_or_fences_is_valid_at_once(demo_tools: Catalog, wrap: Any) -> None:
    outcome = await Planner(ScriptedLLM([wrap(VALID)])).create_plan(GOAL, demo_tools, inputs={"x": 5})
    assert outcome.rounds == 1
    assert set(outcome.plan.tasks) == {"sum", "double"}


async def test_an_llm_error_propagates_unchanged(demo_tools: Catalog) -> None:
    error = LLMError("llm_rate_limited", "slow down", retryable=True)
    with pytest.raises(LLMError) as caught:
        await Planner(ScriptedLLM([UNKNOWN_TOOL, error])).create_plan(GOAL, demo_tools, inputs={"x": 5})
    assert caught.value is error


async def test_the_options_reach_the_llm(demo_tools: Catalog) -> None:
    llm = ScriptedLLM([VALID])
    await Planner(llm, max_tokens=None).create_plan(GOAL, demo_tools, context="be brief", inputs={"x": 5})
    assert llm.requests[0].max_tokens is None
    assert llm.requests[0].messages == list(
        plan_prompt(GOAL, demo_tools.specs(), context="be brief", inputs={"x": 5}).messages
    )


class _FillerSource:
    """Many tools that only need to be listed (a planned call to one would fail)."""

    name = "filler"

    def __init__(self, specs: list[ToolSpec]) -> None:
        self._specs = specs

    def specs(self) -> list[ToolSpec]:
        return self._specs

    async def call(self, name: str, arguments: Mapping[str, Any], meta: Mapping[str, Any]) -> ToolResult:
        raise AssertionError(f"{name} should not be called")


async def test_a_big_catalog_is_trimmed_and_the_relevant_tool_kept() -> None:
    tools = Catalog([_FillerSource(filler_tools(400)), demo_source()])
    llm = ScriptedLLM([VALID])
    outcome = await Planner(llm, context_budget_tokens=5_000).create_plan(
        "add 2 and x, then multiply the sum by 2", tools, inputs={"x": 5}
    )
    total = len(tools.specs())
    assert 0 < outcome.trimmed_tools < total
    assert outcome.provenance()["trimmed_tools"] == outcome.trimmed_tools
    user = llm.requests[0].messages[1]["content"]
    shown = [json.loads(line)["name"] for line in user.splitlines() if line.startswith('{"name":')]
    assert {"add", "multiply"} <= set(shown)
    assert len(shown) == total - outcome.trimmed_tools
    assert _render("trimmed", left_out=str(outcome.trimmed_tools), total=str(total)) in user


async def test_tools_the_caller_may_not_use_are_not_shown(demo_tools: Catalog) -> None:
    class NoFail:
        def __init__(self, inner: Catalog) -> None:
            self.inner = inner

        def get(self, name: str) -> ToolSpec | None:
            return self.inner.get(name)

        def is_permitted(self, name: str) -> bool:
            return name != "fail"

        def specs(self) -> list[ToolSpec]:
            return self.inner.specs()

        async def call(self, name: str, arguments: Mapping[str, Any], meta: Mapping[str, Any]) -> ToolResult:
            return await self.inner.call(name, arguments, meta)

    llm = ScriptedLLM([VALID])
    await Planner(llm).create_plan(GOAL, NoFail(demo_tools), inputs={"x": 5})
    user = llm.requests[0].messages[1]["content"]
    shown = {json.loads(line)["name"] for line in user.splitlines() if line.startswith('{"name":')}
    assert "fail" not in shown and "add" in shown


# --- replanning -------------------------------------------------------------------------

FAILING_PLAN = {
    "goal": "sum and product of x and 3, then write both to the ledger",
    "inputs": {"x": 4},
    "on_failure": "continue",
    "tasks": {
        "sum": {"tool_name": "add", "parameters": {"a": "$<inputs.x>", "b": 3}, "dependencies": []},
        "product": {"tool_name": "multiply", "parameters": {"a": "$<inputs.x>", "b": 3}, "dependencies": []},
        "label": {"tool_name": "fail", "parameters": {"message": "label service down"}, "dependencies": []},
        "write": {
            "tool_name": "ledger_write",
            "parameters": {"key": "$<label.output.result>", "value": "$<sum.output.result>"},
            "dependencies": ["label", "sum"],
        },
    },
}

REPLAN_ANSWER = json.dumps(
    {
        "goal": "write the sum and product to the ledger",
        "tasks": {
            "line": {
                "tool_name": "concat",
                "parameters": {
                    "parts": [
                        "sum=$<inputs.completed.sum.result>",
                        "product=$<inputs.completed.product.result>",
                    ],
                    "sep": ", ",
                },
                "dependencies": [],
            },
            "write": {
                "tool_name": "ledger_write",
                "parameters": {"key": "totals", "value": "$<line.output.result>"},
                "dependencies": ["line"],
            },
        },
        "output": "$<write.output>",
    }
)


@pytest.fixture
async def failed_run(demo_tools: Catalog) -> tuple[PlanObject, dict[str, Any]]:
    reset_demo_state()
    plan = PlanObject.model_validate(FAILING_PLAN)
    record = await Executor(demo_tools).run(plan)
    assert record.status == "failed"
    return plan, record.model_dump(mode="json")


async def test_replanning_hands_completed_outputs_to_the_new_plan(
    demo_tools: Catalog, failed_run: tuple[PlanObject, dict[str, Any]]
) -> None:
    plan, record = failed_run
    llm = ScriptedLLM([REPLAN_ANSWER])
    outcome = await Planner(llm).replan(plan, record, demo_tools)

    assert isinstance(outcome, PlanOutcome)
    assert outcome.plan.inputs == {"x": 4, "completed": {"sum": {"result": 7}, "product": {"result": 12}}}
    assert outcome.plan.plan_id != plan.plan_id
    assert outcome.provenance()["replan_of"] == record["run_id"]
    assert outcome.rounds == 1
    user = llm.requests[0].messages[1]["content"]
    assert '- sum: {"result":7}' in user and '- product: {"result":12}' in user
    assert "label service down" in user  # the failed task's error is shown

    rerun = await Executor(demo_tools).run(outcome.plan)
    assert rerun.status == "succeeded"
    assert rerun.output == {"key": "totals", "value": "sum=7, product=12"}


async def test_replanning_repairs_like_planning(
    demo_tools: Catalog, failed_run: tuple[PlanObject, dict[str, Any]]
) -> None:
    plan, record = failed_run
    wrong = REPLAN_ANSWER.replace('"concat"', '"join"')
    llm = ScriptedLLM([wrong, REPLAN_ANSWER])
    outcome = await Planner(llm).replan(plan, record, demo_tools, goal="write the totals")
    assert outcome.rounds == 2
    assert "unknown_tool" in codes(llm.requests[1].messages[-1]["content"])
    assert outcome.plan.goal == "write the sum and product to the ledger"


async def test_replanning_that_never_validates_fails_bounded(
    demo_tools: Catalog, failed_run: tuple[PlanObject, dict[str, Any]]
) -> None:
    plan, record = failed_run
    llm = ScriptedLLM(["nothing useful"] * 2)
    with pytest.raises(PlanningFailed) as caught:
        await Planner(llm, max_repairs=1).replan(plan, record, demo_tools)
    assert caught.value.rounds == 2
    assert [str(p.code) for p in caught.value.errors] == ["invalid_json"]


def test_the_replan_answer_is_json() -> None:
    assert "tasks" in extract_json(REPLAN_ANSWER)


async def test_a_reference_to_a_task_that_did_not_complete_is_repaired(
    demo_tools: Catalog, failed_run: tuple[PlanObject, dict[str, Any]]
) -> None:
    plan, record = failed_run
    wrong = REPLAN_ANSWER.replace("$<inputs.completed.product.result>", "$<inputs.completed.label.result>")
    llm = ScriptedLLM([wrong, REPLAN_ANSWER])
    outcome = await Planner(llm).replan(plan, record, demo_tools)
    assert outcome.rounds == 2
    assert outcome.history[0].error_codes == ("invalid_reference",)
    assert codes(llm.requests[1].messages[-1]["content"]) == {"invalid_reference"}


async def test_create_plan_leaves_completed_references_to_validation(demo_tools: Catalog) -> None:
    # outside a replan, inputs may arrive at run time: no completed-outputs check
    answer = plan_text(
        {"say": {"tool_name": "echo", "parameters": {"value": "$<inputs.completed.x>"}, "dependencies": []}}
    )
    outcome = await Planner(ScriptedLLM([answer])).create_plan("echo", demo_tools)
    assert outcome.rounds == 1
