"""One measured process: ``python -m benchmarks.server_heap._worker MODE RUNS TASKS WINDOW``.

Imports what ``planexec serve`` imports, then (``MODE`` = ``frozen``) freezes the heap as
the server does after start-up, or (``plain``) leaves it to the collector, then runs the
``io_1ms`` plan of the store benchmark ``RUNS`` times with nothing between runs (no
collection, no freeze: as a long-lived server runs plans). Prints one JSON line: each
run's wall time and the full collections (count, seconds) during it.
"""

from __future__ import annotations

import gc
import json
import sys
import time

import anyio

import planexec.planner
import planexec.server  # the server's own imports: what a serving process holds
from planexec.executor import Executor
from planexec.server._heap import freeze_startup_heap

from ..store._harness import Config, workloads

assert planexec.planner and planexec.server


async def measure(mode: str, runs: int, tasks: int, window: int) -> dict[str, object]:
    plan, tools, _ = workloads(Config(tasks=tasks, window=window))["io_1ms"]
    frozen = freeze_startup_heap() if mode == "frozen" else 0
    full: list[float] = []
    started: list[float] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 2:
            if phase == "start":
                started.append(time.perf_counter())
            else:
                full.append(time.perf_counter() - started.pop())

    gc.callbacks.append(watch)
    walls, collections, collected_s = [], [], []
    for _ in range(runs):
        before = len(full)
        start = time.perf_counter()
        await Executor(tools).run(plan)
        walls.append(time.perf_counter() - start)
        collections.append(len(full) - before)
        collected_s.append(sum(full[before:]))
    gc.callbacks.remove(watch)
    return {
        "mode": mode,
        "frozen_objects": frozen,
        "heap_objects": len(gc.get_objects()),
        "wall_s": walls,
        "full_collections": collections,
        "full_collection_s": collected_s,
    }


if __name__ == "__main__":
    mode, runs, tasks, window = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    print(json.dumps(anyio.run(measure, mode, runs, tasks, window)))
