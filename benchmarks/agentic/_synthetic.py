"""``synthetic``: DAG-shaped jobs for width and depth sweeps, with straggling tools.

Each problem is a job of ``work`` steps followed by one ``combine``:

- width sweep: *w* independent steps (w = 1, 2, 4, 8, 16), then combine;
- depth sweep: *d* layers of 4 steps (d = 1, 2, 4, 8), each step reading one step of
  the layer before, then combine.

Every step has its own latency, drawn once from a seed: lognormal (median 0.5 s,
σ 0.5), and 5 % of the steps are stragglers 10× slower. Three jobs per shape (seeds
``seed``, ``seed + 1``, ``seed + 2``). ``work(key, inputs)`` returns the sum of its
inputs plus a number derived from the key, so the answer depends on every step.
Problems are generated at run time (nothing bundled): the same seed gives the same jobs.
"""

from __future__ import annotations

import hashlib
import math
import random
from typing import Any

import anyio

from planexec.registry import Catalog, PythonToolSource

from ._suite import Problem, Suite, numbers_match

__all__ = ["DEPTHS", "WIDTHS", "load"]

WIDTHS = (1, 2, 4, 8, 16)
DEPTHS = (1, 2, 4, 8)
DEPTH_SWEEP_WIDTH = 4
REPEATS = 3
MEDIAN_S = 0.5
SIGMA = 0.5
STRAGGLER_P = 0.05
STRAGGLER_FACTOR = 10.0
COMBINE_LATENCY_S = 0.05


def key_value(key: str) -> int:
    """The number a step adds: stable across processes (not Python's salted hash)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:2], "big") % 100


def _latency(rng: random.Random) -> float:
    latency = MEDIAN_S * math.exp(rng.gauss(0.0, SIGMA))
    if rng.random() < STRAGGLER_P:
        latency *= STRAGGLER_FACTOR
    return round(latency, 4)


def _job(name: str, layers: list[list[list[int]]], rng: random.Random, latency: dict[str, float]) -> Problem:
    """``layers[L][i]`` lists the indexes, in layer L-1, of the steps step i of layer L reads."""
    tasks: dict[str, Any] = {}
    thoughts: dict[str, str] = {}
    values: dict[str, float] = {}
    lines: list[str] = []
    for depth, layer in enumerate(layers):
        for index, reads in enumerate(layer):
            task_id = f"s{depth + 1}_{index + 1}"
            key = f"{name}.{task_id}"
            latency[key] = _latency(rng)
            sources = [f"s{depth}_{r + 1}" for r in reads]
            tasks[task_id] = {
                "tool_name": "work",
                "parameters": {"key": key, "inputs": [f"$<{s}.output.result>" for s in sources]},
                "dependencies": sources,
            }
            values[task_id] = math.fsum(values[s] for s in sources) + key_value(key)
            reading = f" on the results of {', '.join(sources)}" if sources else ""
            lines.append(f"- {task_id}: work with key {key!r}{reading}")
            thoughts[task_id] = f"Next, step {task_id}."
    last = [f"s{len(layers)}_{i + 1}" for i in range(len(layers[-1]))]
    tasks["result"] = {
        "tool_name": "combine",
        "parameters": {"values": [f"$<{s}.output.result>" for s in last]},
        "dependencies": last,
    }
    thoughts["result"] = "Finally, combine the last steps."
    return Problem(
        id=name,
        question="Run this job and report the combined result of its last steps:\n" + "\n".join(lines),
        gold_plan={"tasks": tasks, "output": "$<result.output.result>"},
        gold_answer=math.fsum(values[s] for s in last),
        thoughts=thoughts,
    )


def problems(seed: int, prefix: str = "") -> tuple[list[Problem], dict[str, float]]:
    """The sweeps' jobs and every step's latency (key -> seconds)."""
    latency: dict[str, float] = {}
    jobs: list[Problem] = []
    for repeat in range(REPEATS):
        rng = random.Random(seed + repeat)
        for width in WIDTHS:
            jobs.append(_job(f"{prefix}w{width}-r{repeat + 1}", [[[] for _ in range(width)]], rng, latency))
        for depth in DEPTHS:
            layers: list[list[list[int]]] = [[[] for _ in range(DEPTH_SWEEP_WIDTH)]]
            for _ in range(depth - 1):
                layers.append([[rng.randrange(DEPTH_SWEEP_WIDTH)] for _ in range(DEPTH_SWEEP_WIDTH)])
            jobs.append(_job(f"{prefix}d{depth}-r{repeat + 1}", layers, rng, latency))
    return jobs, latency


def _source(latency: dict[str, float]) -> PythonToolSource:
    async def work(key: str, inputs: list[float]) -> float:
        """Run one step of a job: the sum of its inputs plus the step's own number."""
        await anyio.sleep(latency.get(key, MEDIAN_S))
        return math.fsum(inputs) + key_value(key)

    async def combine(values: list[float]) -> float:
        """The sum of the last steps' results."""
        await anyio.sleep(COMBINE_LATENCY_S)
        return math.fsum(values)

    return PythonToolSource("synthetic", [work, combine])


def _check(problem: Problem, answer: str) -> bool:
    return numbers_match(answer, float(problem.gold_answer))


def load(seed: int = 1) -> Suite:
    jobs, latency = problems(seed)
    examples, _ = problems(seed + 1000, "example-")
    return Suite(
        name="synthetic",
        description="width (1-16) and depth (1-8) sweeps; lognormal tool latencies with 5 % stragglers",
        problems=jobs,
        examples=[examples[1], examples[len(WIDTHS) + 1], examples[2], examples[len(WIDTHS) + 2]],
        catalog=lambda: Catalog([_source(latency)]),
        check=_check,
        final_answer=False,
    )
