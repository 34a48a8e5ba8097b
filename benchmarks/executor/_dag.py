"""Seeded random DAGs, tool latencies, and the bounds a schedule is measured against.

A DAG is a list of nodes in topological order (node ``i`` depends only on nodes ``< i``).
Each node depends on 1..``max_parents`` distinct nodes drawn from the ``window`` nodes just
before it; with probability ``root_probability`` (and always for node 0) it is a root.
The window keeps the graph deep, the fan-out keeps it wide: real parallelism, real
fan-in. Everything is a pure function of the seed, so every system runs the same DAG.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class DagShape:
    tasks: int
    window: int = 200
    max_parents: int = 3
    root_probability: float = 0.02
    seed: int = 1


@dataclass(frozen=True)
class LatencyModel:
    """Lognormal latencies around ``median_ms``; a random ``straggler_fraction`` of the tasks
    take ``straggler_factor`` times longer."""

    median_ms: float = 20.0
    sigma: float = 0.5
    straggler_fraction: float = 0.05
    straggler_factor: float = 10.0
    seed: int = 1

    def sample(self, n: int) -> tuple[float, ...]:
        rng = random.Random(self.seed)
        out = []
        for _ in range(n):
            ms = self.median_ms * math.exp(rng.gauss(0.0, self.sigma))
            if rng.random() < self.straggler_fraction:
                ms *= self.straggler_factor
            out.append(round(ms, 3))
        return tuple(out)


@dataclass(frozen=True)
class Dag:
    deps: tuple[tuple[int, ...], ...]

    @classmethod
    def generate(cls, shape: DagShape) -> Dag:
        rng = random.Random(shape.seed)
        deps: list[tuple[int, ...]] = []
        for i in range(shape.tasks):
            low = max(0, i - shape.window)
            if i == 0 or rng.random() < shape.root_probability:
                k = 0
            else:
                k = rng.randint(1, min(shape.max_parents, i - low))
            deps.append(tuple(sorted(rng.sample(range(low, i), k))))
        return cls(tuple(deps))

    def __len__(self) -> int:
        return len(self.deps)

    @cached_property
    def ids(self) -> tuple[str, ...]:
        # Zero-padded, so sorting ids sorts nodes (the executor breaks ties by id).
        width = len(str(max(len(self.deps) - 1, 0)))
        return tuple(f"t{i:0{width}d}" for i in range(len(self.deps)))

    @cached_property
    def children(self) -> tuple[tuple[int, ...], ...]:
        out: list[list[int]] = [[] for _ in self.deps]
        for i, parents in enumerate(self.deps):
            for p in parents:
                out[p].append(i)
        return tuple(tuple(c) for c in out)

    @cached_property
    def levels(self) -> tuple[tuple[int, ...], ...]:
        """Topological generations: level ``d`` holds the nodes whose longest path from a root has d hops."""
        depth = [0] * len(self.deps)
        for i, parents in enumerate(self.deps):
            depth[i] = max((depth[p] + 1 for p in parents), default=0)
        out: list[list[int]] = [[] for _ in range(max(depth, default=-1) + 1)]
        for i, d in enumerate(depth):
            out[d].append(i)
        return tuple(tuple(level) for level in out)

    @cached_property
    def remaining_hops(self) -> tuple[int, ...]:
        """Tasks on the longest path from each node to a sink, the node included (DESIGN §5 priority)."""
        out = [1] * len(self.deps)
        for i in reversed(range(len(self.deps))):
            out[i] = 1 + max((out[c] for c in self.children[i]), default=0)
        return tuple(out)

    def stats(self) -> dict[str, Any]:
        return {
            "tasks": len(self),
            "edges": sum(len(p) for p in self.deps),
            "roots": sum(1 for p in self.deps if not p),
            "sinks": sum(1 for c in self.children if not c),
            "levels": len(self.levels),
            "max_level_width": max((len(level) for level in self.levels), default=0),
        }

    def critical_path_ms(self, latency_ms: Sequence[float]) -> float:
        finish = [0.0] * len(self.deps)
        for i, parents in enumerate(self.deps):
            finish[i] = max((finish[p] for p in parents), default=0.0) + latency_ms[i]
        return max(finish, default=0.0)

    def to_plan(
        self, tool_name: str, parameters: Sequence[dict[str, Any]] | None = None, **extra: Any
    ) -> dict[str, Any]:
        """The DAG as a PlanObject dict, every dependency listed explicitly."""
        ids = self.ids
        tasks = {
            ids[i]: {
                "tool_name": tool_name,
                "parameters": parameters[i] if parameters is not None else {},
                "dependencies": [ids[p] for p in parents],
            }
            for i, parents in enumerate(self.deps)
        }
        return {"goal": f"benchmark DAG of {len(self)} tasks", "tasks": tasks, **extra}


def simulate_list_schedule(dag: Dag, latency_ms: Sequence[float], k: int | None) -> float:
    """Makespan (ms) of a zero-overhead scheduler following DESIGN §5.

    Tasks start the moment they are ready and a slot is free; among ready tasks the one
    with the most remaining hops goes first, ties by id. ``k=None`` means unlimited, in
    which case the result is the critical path.
    """
    if k is None:
        return dag.critical_path_ms(latency_ms)
    hops = dag.remaining_hops
    waiting = [len(p) for p in dag.deps]
    ready = [(-hops[i], i) for i, p in enumerate(dag.deps) if not p]
    heapq.heapify(ready)
    running: list[tuple[float, int]] = []
    now = 0.0
    for _ in range(len(dag)):
        while ready and len(running) < k:
            _, i = heapq.heappop(ready)
            heapq.heappush(running, (now + latency_ms[i], i))
        now, i = heapq.heappop(running)
        for c in dag.children[i]:
            waiting[c] -= 1
            if waiting[c] == 0:
                heapq.heappush(ready, (-hops[c], c))
    return now


def schedule_violations(
    dag: Dag, spans: Sequence[tuple[float, float]], k: int | None, slack_s: float = 0.0
) -> dict[str, int]:
    """Check a measured schedule: starts before a parent finished, and peak concurrency.

    ``spans[i]`` is (start, finish) of node ``i`` in seconds on any common clock.
    """
    early = sum(
        1 for i, parents in enumerate(dag.deps) for p in parents if spans[i][0] + slack_s < spans[p][1]
    )
    events = sorted([(s, 1) for s, _ in spans] + [(f, -1) for _, f in spans], key=lambda e: (e[0], e[1]))
    peak = running = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    return {
        "started_before_dependency_finished": early,
        "peak_concurrency": peak,
        "over_limit": int(k is not None and peak > k),
    }
