"""Runs a suite in each mode and puts the numbers together.

Each problem runs in each mode one after the other, on a fresh tool catalog, with its
own meter around the model; latency is the time from the first model call to the answer
on anyio's clock. Under the simulated LLM the whole run is on trio with
``MockClock(autojump_threshold=0)``: every ``anyio.sleep`` (model latency, tool latency)
costs virtual time only, concurrency stays real, and the numbers are the same on every
machine. Live runs (``--llm MODEL``) run on asyncio in real time (litellm is
asyncio-only).

Speedup is the reactive mean latency over the planned one; token ratio the reactive
mean LLM tokens (prompt + completion) over the planned ones.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import anyio

from planexec.executor import RunRecord
from planexec.planner import LLM, LiteLLMClient, LLMError

from .._common import environment
from ._llm import LatencyModel, Meter, Policy, SimulatedLLM, TokenCounter
from ._planned import gold_policy as planned_policy
from ._planned import run_planned, seconds_of
from ._reactive import gold_policy as reactive_policy
from ._reactive import react_system_prompt, run_reactive, trajectory
from ._suite import Problem, Suite
from ._suites import load_suite

__all__ = ["MODES", "BenchOptions", "modes_of", "run", "subset", "summary"]

MODES = ("reactive", "reactive_parallel", "planned")
SIMULATED = "simulated"


@dataclass(frozen=True)
class BenchOptions:
    """Everything a benchmark run depends on (the command line, parsed)."""

    suite: str
    mode: str = "both"
    llm: str = SIMULATED
    api_base: str | None = None
    limit: int | None = None
    ttft_s: float = LatencyModel.ttft_s
    output_tokens_per_s: float = LatencyModel.output_tokens_per_s
    token_model: str = "gpt-4o"
    examples: int = 2
    final_answer: bool | None = None
    """None: the suite's default (on for parallelqa, as LLMCompiler's joiner)."""
    replan: bool = False
    max_turns: int = 50
    seed: int = 1

    @property
    def simulated(self) -> bool:
        return self.llm == SIMULATED


def modes_of(mode: str) -> tuple[str, ...]:
    """``both`` is every mode (the parallel ReAct variant too); else the one named."""
    if mode == "both":
        return MODES
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: use reactive, reactive_parallel, planned or both")
    return (mode,)


def subset(problems: Sequence[Problem], limit: int | None) -> list[Problem]:
    """The first ``limit`` problems taken round-robin over the parallel widths (narrowest
    first), so a small limit still covers every width; all of them, in order, without."""
    if limit is None or limit >= len(problems):
        return list(problems)
    by_width: dict[int, list[Problem]] = {}
    for problem in problems:
        by_width.setdefault(problem.width, []).append(problem)
    queues = [by_width[w] for w in sorted(by_width)]
    chosen: list[Problem] = []
    index = 0
    while len(chosen) < limit:
        for queue in queues:
            if index < len(queue) and len(chosen) < limit:
                chosen.append(queue[index])
        index += 1
    return chosen


@dataclass
class _Context:
    suite: Suite
    options: BenchOptions
    latency: LatencyModel
    counter: TokenCounter
    live: LLM | None
    systems: dict[bool, str]
    final_answer: bool

    def model(self, policy: Policy) -> LLM:
        if self.live is not None:
            return self.live
        return SimulatedLLM(policy, latency=self.latency, counter=self.counter)


async def _one(problem: Problem, mode: str, ctx: _Context) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """One problem in one mode: its row, and (planned mode) its timeline."""
    tools = ctx.suite.catalog()
    examples = ctx.suite.examples[: ctx.options.examples]
    timeline: dict[str, Any] | None = None
    error: str | None = None
    detail: str | None = None
    answer: str | None = None
    tool_calls = 0
    start = anyio.current_time()
    if mode == "planned":
        meter = Meter(ctx.model(planned_policy(problem)))
        try:
            planned = await run_planned(
                problem,
                tools,
                meter,
                examples=examples,
                final_answer=ctx.final_answer,
                replan=ctx.options.replan,
            )
        except LLMError as failed:
            error, detail = failed.code, failed.message
        else:
            answer, error = planned.answer, planned.error
            if planned.record is not None:
                tool_calls = sum(len(t.attempts) for t in planned.record.tasks.values())
                timeline = _timeline(problem, start, meter, planned.record)
    else:
        parallel = mode == "reactive_parallel"
        meter = Meter(ctx.model(reactive_policy(problem, parallel=parallel)), label="step")
        try:
            outcome = await run_reactive(
                problem,
                tools,
                meter,
                ctx.systems[parallel],
                parallel=parallel,
                max_turns=ctx.options.max_turns,
            )
        except LLMError as failed:
            error, detail = failed.code, failed.message
        else:
            answer, tool_calls = outcome.answer, outcome.tool_calls
            if answer is None:
                error = "no_answer"
    latency = anyio.current_time() - start
    row = {
        "latency_s": round(latency, 6),
        "llm_calls": len(meter.calls),
        "prompt_tokens": meter.prompt_tokens,
        "completion_tokens": meter.completion_tokens,
        "llm_tokens": meter.prompt_tokens + meter.completion_tokens,
        "tool_calls": tool_calls,
        "answer": answer,
        "correct": answer is not None and ctx.suite.check(problem, answer),
        "error": error,
        "error_detail": detail,
    }
    return row, timeline


def _timeline(problem: Problem, start: float, meter: Meter, record: RunRecord) -> dict[str, Any]:
    """The LLM calls (from the meter) and the tool attempts (from the run record), in
    seconds since the problem started."""
    spans: list[dict[str, Any]] = [
        {"lane": f"LLM: {c.label}", "kind": "llm", "start_s": c.start_s - start, "end_s": c.end_s - start}
        for c in meter.calls
    ]
    for task_id, task in record.tasks.items():
        for attempt in task.attempts:
            spans.append(
                {
                    "lane": task_id,
                    "kind": "tool",
                    "start_s": seconds_of(attempt.started_at) - start,
                    "end_s": seconds_of(attempt.finished_at) - start,
                }
            )
    for span in spans:
        span["start_s"], span["end_s"] = round(span["start_s"], 6), round(span["end_s"], 6)
    return {"problem": problem.id, "question": problem.question, "width": problem.width, "spans": spans}


def _mean(values: Sequence[float]) -> float:
    return round(statistics.fmean(values), 6) if values else 0.0


def _aggregate(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "latency_s": _mean([r["latency_s"] for r in rows]),
        "llm_tokens": _mean([r["llm_tokens"] for r in rows]),
        "llm_calls": _mean([r["llm_calls"] for r in rows]),
        "accuracy": round(sum(r["correct"] for r in rows) / len(rows), 6) if rows else 0.0,
        "prompt_tokens": _mean([r["prompt_tokens"] for r in rows]),
        "completion_tokens": _mean([r["completion_tokens"] for r in rows]),
        "tool_calls": _mean([r["tool_calls"] for r in rows]),
        "problems": len(rows),
    }


def _ratio(modes: dict[str, dict[str, Any]], key: str, over: str = "reactive") -> float | None:
    if over not in modes or "planned" not in modes or not modes["planned"][key]:
        return None
    return round(float(modes[over][key]) / float(modes["planned"][key]), 4)


def _by(key: str, problems: Sequence[dict[str, Any]], modes: Sequence[str]) -> list[dict[str, Any]]:
    """Per value of ``key`` (``width`` or ``depth`` of the gold plan): mean latency and
    tokens per mode, speedup and token ratio."""
    out = []
    for value in sorted({p[key] for p in problems}):
        group = [p for p in problems if p[key] == value]
        stats = {m: _aggregate([p["runs"][m] for p in group]) for m in modes}
        out.append(
            {
                key: value,
                "problems": len(group),
                "latency_s": {m: s["latency_s"] for m, s in stats.items()},
                "llm_tokens": {m: s["llm_tokens"] for m, s in stats.items()},
                "speedup": _ratio(stats, "latency_s"),
                "speedup_over_parallel": _ratio(stats, "latency_s", "reactive_parallel"),
                "token_ratio": _ratio(stats, "llm_tokens"),
            }
        )
    return out


async def _run(options: BenchOptions, advance: Callable[[], None]) -> dict[str, Any]:
    suite = load_suite(options.suite, seed=options.seed)
    modes = modes_of(options.mode)
    problems = subset(suite.problems, options.limit)
    live = None if options.simulated else LiteLLMClient(options.llm, api_base=options.api_base)
    catalog = suite.catalog()
    examples = suite.examples[: options.examples]
    systems = {
        parallel: react_system_prompt(
            catalog, [await trajectory(e, catalog, parallel=parallel) for e in examples], parallel=parallel
        )
        for parallel in (False, True)
    }
    ctx = _Context(
        suite=suite,
        options=options,
        latency=LatencyModel(options.ttft_s, options.output_tokens_per_s),
        counter=TokenCounter(options.token_model),
        live=live,
        systems=systems,
        final_answer=suite.final_answer if options.final_answer is None else options.final_answer,
    )
    rows: list[dict[str, Any]] = []
    timeline: dict[str, Any] | None = None
    widest = max(p.width for p in problems)
    for problem in problems:
        runs: dict[str, Any] = {}
        for mode in modes:
            runs[mode], drawn = await _one(problem, mode, ctx)
            if drawn is not None and timeline is None and problem.width == widest:
                timeline = drawn
            advance()
        rows.append({"id": problem.id, "width": problem.width, "depth": problem.depth, "runs": runs})
    stats = {m: _aggregate([r["runs"][m] for r in rows]) for m in modes}
    return {
        "benchmark": "agentic",
        "schema_version": 1,
        "suite": suite.name,
        "description": suite.description,
        "environment": {
            **environment(
                engine_paths=["executor", "planner", "registry", "schemas", "benchmarks/agentic"],
                distributions=("anyio", "trio", "litellm", "matplotlib"),
            ),
            "event_loop": "trio (MockClock, virtual time)" if options.simulated else "asyncio",
        },
        "config": {
            **asdict(options),
            "final_answer": ctx.final_answer,
            "modes": list(modes),
            "problems": len(problems),
            "clock": "virtual (trio MockClock)" if options.simulated else "real (asyncio)",
            "latency_model": asdict(ctx.latency) if options.simulated else None,
            "react_examples": len(examples),
        },
        "modes": stats,
        "speedup": _ratio(stats, "latency_s"),
        "token_ratio": _ratio(stats, "llm_tokens"),
        "speedup_over_parallel": _ratio(stats, "latency_s", "reactive_parallel"),
        "by_width": _by("width", rows, modes),
        "by_depth": _by("depth", rows, modes),
        "problems": rows,
        "timeline": timeline,
    }


def problem_count(options: BenchOptions) -> int:
    """How many problem runs :func:`run` will make (for a progress bar)."""
    suite = load_suite(options.suite, seed=options.seed)
    return len(subset(suite.problems, options.limit)) * len(modes_of(options.mode))


def run(options: BenchOptions, advance: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Run the benchmark: simulated on trio's virtual clock, live on asyncio."""
    if options.simulated:
        from trio.testing import MockClock

        clock = MockClock(autojump_threshold=0)
        result: dict[str, Any] = anyio.run(
            _run, options, advance, backend="trio", backend_options={"clock": clock}
        )
        return result
    live_result: dict[str, Any] = anyio.run(_run, options, advance)
    return live_result


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """What ``--json`` prints: suite, per-mode latency/tokens/calls/accuracy, speedup and
    token ratio."""
    keys = ("latency_s", "llm_tokens", "llm_calls", "accuracy")
    return {
        "suite": result["suite"],
        "modes": {m: {k: s[k] for k in keys} for m, s in result["modes"].items()},
        "speedup": result["speedup"],
        "token_ratio": result["token_ratio"],
    }
