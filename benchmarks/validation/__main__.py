"""Time ``validate_plan`` on seeded random DAG plans (demo tools, references, handlers).

    python -m benchmarks.validation [--sizes 1000,10000,50000] [--repeat 3] [--json] [--output PATH]

Each plan: task i calls ``add`` with up to three dependencies among the previous 50 tasks,
one parameter a whole-value reference and one an interpolated string... every check of
DESIGN §4 runs (schema, DAG and cycles, references, tool arguments, output schemas).
Reported: median seconds and µs per task; the target is < 0.5 s for 10,000 tasks.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from planexec.planner import Limits, validate_plan
from planexec.registry import Catalog, demo_source

TARGET_10K_S = 0.5
DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "results" / "validation.json"


def make_plan(n: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    tasks: dict[str, Any] = {}
    for i in range(n):
        window = range(max(0, i - 50), i)
        deps = sorted({f"t{rng.choice(window)}" for _ in range(min(i, rng.randint(1, 3)))}) if i else []
        if deps:
            parameters: dict[str, Any] = {"a": f"$<{deps[0]}.output.result>", "b": i}
        else:
            parameters = {"a": i, "b": 1}
        tasks[f"t{i}"] = {"tool_name": "add", "parameters": parameters, "dependencies": deps}
        if i % 10 == 9:
            tasks[f"t{i}"]["error_handling"] = {"on_error": f"h{i}"}
            tasks[f"h{i}"] = {
                "tool_name": "echo",
                "parameters": {"value": f"$<t{i}.error>"},
                "dependencies": [],
            }
    return {"goal": f"benchmark plan of {n} tasks", "tasks": tasks}


def measure(n: int, repeat: int, seed: int, tools: Catalog) -> dict[str, Any]:
    plan = make_plan(n, seed)
    limits = Limits(max_tasks=len(plan["tasks"]), max_bytes=1 << 30)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = validate_plan(plan, tools, limits)
        times.append(time.perf_counter() - started)
        if not result.valid:
            raise SystemExit(f"benchmark plan is invalid: {result.errors[:3]}")
    median = statistics.median(times)
    return {
        "tasks": len(plan["tasks"]),
        "median_s": median,
        "min_s": min(times),
        "us_per_task": median / len(plan["tasks"]) * 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.validation", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print only the JSON")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    tools = Catalog([demo_source()])
    rows = [measure(int(size), args.repeat, args.seed, tools) for size in args.sizes.split(",")]
    ten_k = next((r for r in rows if 9_000 <= r["tasks"] <= 12_000), None)
    report = {
        "suite": "validation",
        "python": platform.python_version(),
        "seed": args.seed,
        "repeat": args.repeat,
        "rows": rows,
        "target": {
            "tasks": 10_000,
            "max_s": TARGET_10K_S,
            "met": None if ten_k is None else ten_k["median_s"] < TARGET_10K_S,
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{'tasks':>8} {'median s':>10} {'min s':>10} {'µs/task':>9}")
    for row in rows:
        print(f"{row['tasks']:>8} {row['median_s']:>10.3f} {row['min_s']:>10.3f} {row['us_per_task']:>9.1f}")
    if ten_k is not None:
        verdict = "met" if report["target"]["met"] else "MISSED"
        print(f"target: 10,000 tasks < {TARGET_10K_S} s — {verdict}")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
