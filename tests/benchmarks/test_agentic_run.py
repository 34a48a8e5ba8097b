"""The simulated parallelqa run: planned mode is at least 2x faster (virtual time) and
uses at least 3x fewer LLM tokens than ReAct, with the same (right) answers; the numbers
are deterministic. Plus the ReAct answer parser."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import anyio
import pytest

from planexec.benchmarks.agentic import LatencyModel, Meter, SimulatedLLM, TokenCounter
from planexec.benchmarks.agentic._harness import BenchOptions, run, subset, summary
from planexec.benchmarks.agentic._planned import gold_policy as planned_policy
from planexec.benchmarks.agentic._planned import run_planned
from planexec.benchmarks.agentic._reactive import parse_turn
from planexec.benchmarks.agentic._suites import load_suite
from planexec.executor import RunStatus
from planexec.planner import Message

pytest.importorskip("trio")


@pytest.fixture(scope="module")
def parallelqa() -> dict[str, Any]:
    """The whole suite, every mode (about 10 s: the clock is virtual)."""
    return run(BenchOptions(suite="parallelqa"))


def test_planned_is_twice_as_fast_with_a_third_of_the_tokens(parallelqa: dict[str, Any]) -> None:
    assert {p["width"] for p in parallelqa["problems"]} == {2, 3, 4, 5}
    assert parallelqa["speedup"] >= 2.0
    assert parallelqa["token_ratio"] >= 3.0
    reactive, planned = parallelqa["modes"]["reactive"], parallelqa["modes"]["planned"]
    assert reactive["latency_s"] / planned["latency_s"] == pytest.approx(parallelqa["speedup"], rel=1e-3)
    assert planned["llm_calls"] == 2.0  # one plan, one final answer
    # wider questions gain more: ReAct pays every look-up in turn, the plan runs them at once
    speedups = [row["speedup"] for row in parallelqa["by_width"]]
    assert speedups == sorted(speedups)


def test_every_mode_gives_the_same_right_answers(parallelqa: dict[str, Any]) -> None:
    for mode in ("reactive", "reactive_parallel", "planned"):
        assert parallelqa["modes"][mode]["accuracy"] == 1.0
    for problem in parallelqa["problems"]:
        answers = {run["answer"] for run in problem["runs"].values()}
        assert len(answers) == 1, problem


def test_the_timeline_is_a_widest_planned_run(parallelqa: dict[str, Any]) -> None:
    timeline = parallelqa["timeline"]
    assert timeline["width"] == 5
    lookups = [s for s in timeline["spans"] if s["kind"] == "tool" and s["lane"].startswith("l")]
    plan = next(s for s in timeline["spans"] if s["lane"] == "LLM: plan")
    assert len(lookups) == 5
    # all five look-ups start together, right after the plan
    assert {s["start_s"] for s in lookups} == {plan["end_s"]}


def test_simulated_numbers_are_deterministic() -> None:
    options = BenchOptions(suite="synthetic", limit=4)
    first, second = run(options), run(options)
    assert first["problems"] == second["problems"]
    assert summary(first) == summary(second)


def test_a_limit_covers_every_width_first() -> None:
    chosen = subset(load_suite("parallelqa").problems, 4)
    assert sorted(p.width for p in chosen) == [2, 3, 4, 5]


def test_parse_turn_reads_actions_and_finish() -> None:
    turn = parse_turn(
        'Thought: two at once.\nAction: lookup {"entity": "A", "attribute": "population"}\n'
        'Action: add {"values": [1, 2]}'
    )
    assert turn.actions == [
        ("lookup", {"entity": "A", "attribute": "population"}),
        ("add", {"values": [1, 2]}),
    ]
    assert turn.finish is None
    assert parse_turn("Thought: done.\nAction: Finish[42.5]").finish == "42.5"
    assert parse_turn('Action 1: add[{"values": [1]}]').actions == [("add", {"values": [1]})]
    assert parse_turn('Action: add({"values": [1]})').actions == [("add", {"values": [1]})]
    broken = parse_turn("Thought: hm.\nAction: lookup {entity: A}")
    assert broken.actions == [] and len(broken.problems) == 1


def test_planned_mode_replans_a_failed_run_and_answers() -> None:
    """A first plan that looks up a town the table does not have fails; with replanning
    on, the planner is asked again (the real replan prompt) and the second plan answers."""
    from trio.testing import MockClock

    suite = load_suite("parallelqa")
    problem = suite.problems[0]
    bad = json.loads(json.dumps(problem.gold_plan))
    bad["tasks"]["l1"]["parameters"]["entity"] = "Nowhere"
    gold = planned_policy(problem)
    asked: list[str] = []

    def policy(messages: Sequence[Message]) -> str:
        asked.append(messages[0]["content"][:40])
        if len(asked) == 1:
            return json.dumps(bad)
        return gold(messages)

    async def main() -> Any:
        llm = Meter(SimulatedLLM(policy, latency=LatencyModel(), counter=TokenCounter()))
        return await run_planned(
            problem, suite.catalog(), llm, examples=[], final_answer=True, replan=True
        ), llm

    outcome, llm = anyio.run(main, backend="trio", backend_options={"clock": MockClock(autojump_threshold=0)})
    assert outcome.replanned and outcome.planning_rounds == 2
    assert outcome.record.status is RunStatus.SUCCEEDED
    assert suite.check(problem, outcome.answer)
    assert [c.label for c in llm.calls] == ["plan", "replan", "final"]


def test_a_missing_bench_extra_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from planexec.benchmarks.agentic import _command
    from planexec.server._cli import app

    real = _command.importlib.util.find_spec
    monkeypatch.setattr(
        _command.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else real(name, *a),
    )
    done = CliRunner().invoke(app, ["bench", "synthetic", "--output", "unused"])
    assert done.exit_code == 2
    assert done.stdout == ""
    assert "pip install 'planexec[bench]'" in done.stderr


def test_the_executor_runs_on_trio_virtual_time() -> None:
    """Five 2 s steps at once, then one more: 4 virtual seconds, whatever the machine."""
    from trio.testing import MockClock

    from planexec.benchmarks.agentic._planned import EPOCH, AnyioClock
    from planexec.executor import Executor
    from planexec.planner import validate_plan
    from planexec.registry import Catalog, PythonToolSource

    async def step(x: float) -> float:
        """Wait 2 s, add one."""
        await anyio.sleep(2.0)
        return x + 1

    catalog = Catalog([PythonToolSource("t", [step])])
    tasks: dict[str, Any] = {
        f"a{i}": {"tool_name": "step", "parameters": {"x": i}, "dependencies": []} for i in range(5)
    }
    tasks["b"] = {"tool_name": "step", "parameters": {"x": "$<a4.output.result>"}, "dependencies": ["a4"]}
    plan = validate_plan({"tasks": tasks, "output": "$<b.output.result>"}, catalog).plan
    assert plan is not None

    async def main() -> tuple[float, Any]:
        start = anyio.current_time()
        record = await Executor(catalog, clock=AnyioClock(EPOCH)).run(plan)
        return anyio.current_time() - start, record

    elapsed, record = anyio.run(
        main, backend="trio", backend_options={"clock": MockClock(autojump_threshold=0)}
    )
    assert record.status is RunStatus.SUCCEEDED and record.output == 6.0
    assert elapsed == pytest.approx(4.0, abs=1e-9)
    starts = {record.tasks[f"a{i}"].attempts[0].started_at for i in range(5)}
    assert len(starts) == 1  # the five ran at once
