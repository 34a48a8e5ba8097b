"""Planned mode: one ``Planner.create_plan`` call (the real prompt, extraction and
validation), the :class:`~planexec.executor.Executor`, then an optional final-answer
call (LLMCompiler's joiner) and optional replanning when the run fails.

The simulated policy (:func:`gold_policy`) answers the planner with the gold plan as
compact JSON (no ``plan_id``: the planner assigns one) and the joiner with the run's
output read back out of the joiner prompt.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

from planexec.executor import Executor, RunRecord, RunStatus
from planexec.planner import Message, Planner, PlanningFailed
from planexec.registry import ToolView

from ._llm import Meter, Policy
from ._reactive import parse_turn
from ._suite import Problem, answer_text, compact

__all__ = [
    "EPOCH",
    "AnyioClock",
    "JOINER_SYSTEM",
    "seconds_of",
    "PlannedOutcome",
    "gold_policy",
    "planner_context",
    "run_planned",
]

JOINER_SYSTEM = """You are given a question and the results of a plan that was executed to answer it.
Answer the question from those results. Reply exactly:
Thought: <your reasoning>
Action: Finish[<the answer alone>]"""


class AnyioClock:
    """The executor's clock on anyio's time: virtual seconds under trio's MockClock, the
    event loop's clock in live runs. A timestamp is ``epoch`` plus that time, so
    :func:`seconds_of` gives the anyio time back."""

    def __init__(self, epoch: datetime) -> None:
        self._epoch = epoch

    def now(self) -> datetime:
        return self._epoch + timedelta(seconds=anyio.current_time())

    def monotonic(self) -> float:
        return anyio.current_time()


EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def seconds_of(timestamp: datetime) -> float:
    """The anyio time at which :class:`AnyioClock` (on :data:`EPOCH`) stamped ``timestamp``."""
    return (timestamp - EPOCH).total_seconds()


def planner_context(examples: Sequence[Problem]) -> str | None:
    """Worked examples for the planner (as many as ReAct's system prompt shows)."""
    if not examples:
        return None
    parts = [
        f"Example goal: {p.question}\nExample plan: {json.dumps(p.gold_plan, separators=(',', ':'))}"
        for p in examples
    ]
    return "\n\n".join(parts)


def _joiner_messages(problem: Problem, record: RunRecord, plan_tasks: dict[str, Any]) -> list[Message]:
    lines = [f"Question: {problem.question}", "Results:"]
    for task_id, task in record.tasks.items():
        attempt = task.attempts[-1] if task.attempts else None
        arguments = compact(attempt.arguments) if attempt is not None else "{}"
        result = (
            compact(task.output) if task.error is None else f"ERROR {task.error.code}: {task.error.message}"
        )
        lines.append(f"{task_id}: {plan_tasks[task_id].tool_name}({arguments}) -> {result}")
    lines.append(f"Output: {compact(record.output)}")
    return [{"role": "system", "content": JOINER_SYSTEM}, {"role": "user", "content": "\n".join(lines)}]


@dataclass
class PlannedOutcome:
    answer: str | None
    record: RunRecord | None
    planning_rounds: int
    replanned: bool
    error: str | None = None


async def run_planned(
    problem: Problem,
    tools: ToolView,
    meter: Meter,
    *,
    examples: Sequence[Problem],
    final_answer: bool,
    replan: bool,
) -> PlannedOutcome:
    planner = Planner(meter)
    meter.label = "plan"
    try:
        outcome = await planner.create_plan(
            problem.question, tools, context=planner_context(examples), inputs=problem.inputs or None
        )
    except PlanningFailed as failed:
        return PlannedOutcome(None, None, failed.rounds, False, failed.code)
    executor = Executor(tools, clock=AnyioClock(EPOCH))
    record = await executor.run(outcome.plan)
    rounds, replanned = outcome.rounds, False
    if replan and record.status is not RunStatus.SUCCEEDED:
        meter.label = "replan"
        try:
            outcome = await planner.replan(
                outcome.plan, record.model_dump(mode="json"), tools, goal=problem.question
            )
        except PlanningFailed as failed:
            return PlannedOutcome(None, record, rounds + failed.rounds, True, failed.code)
        rounds += outcome.rounds
        replanned = True
        record = await executor.run(outcome.plan)
    if record.status is not RunStatus.SUCCEEDED:
        return PlannedOutcome(None, record, rounds, replanned, f"run_{record.status}")
    if not final_answer:
        return PlannedOutcome(answer_text(record.output), record, rounds, replanned)
    meter.label = "final"
    completion = await meter.complete(_joiner_messages(problem, record, outcome.plan.tasks))
    return PlannedOutcome(parse_turn(completion.text).finish, record, rounds, replanned)


def gold_policy(problem: Problem) -> Policy:
    """The scripted planner: the gold plan for planning calls; for the joiner, the run
    output it reads from the ``Output:`` line, as ``Finish[...]``."""
    plan = json.dumps(problem.gold_plan, separators=(",", ":"), ensure_ascii=False)

    def policy(messages: Sequence[Message]) -> str:
        if messages[0]["content"] != JOINER_SYSTEM:
            return plan
        output_line = [line for line in messages[-1]["content"].splitlines() if line.startswith("Output: ")][
            -1
        ]
        body = output_line.removeprefix("Output: ")
        try:
            value: Any = json.loads(body)
        except json.JSONDecodeError:
            value = body
        return f"Thought: The plan's output answers the question.\nAction: Finish[{answer_text(value)}]"

    return policy
