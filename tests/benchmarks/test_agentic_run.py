"""The simulated parallelqa run: planned mode is at least 2x faster (virtual time) and
uses at least 3x fewer LLM tokens than ReAct, with the same (right) answers; the numbers
are deterministic. Plus the ReAct answer parser."""

from __future__ import annotations

from typing import Any

import pytest

from planexec.benchmarks.agentic._harness import BenchOptions, run, subset, summary
from planexec.benchmarks.agentic._reactive import parse_turn
from planexec.benchmarks.agentic._suites import load_suite

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
    broken = parse_turn("Thought: hm.\nAction: lookup {entity: A}")
    assert broken.actions == [] and len(broken.problems) == 1
