"""``python -m benchmarks.store [--quick] [--json] [--output PATH] [--seed N]``."""

from __future__ import annotations

from typing import Any

from .. import _common
from ._harness import NO_STORE, benchmark

NAMES = {"no_store": "no store", "sqlite": "SQLite (WAL)", "redis": "Redis (informative)"}


def rows(result: dict[str, Any]) -> list[list[str]]:
    out = []
    for workload, entry in result["workloads"].items():
        for name, row in entry["systems"].items():
            if row["status"] != "ok":
                out.append([workload, NAMES[name], row["status"], "", "", "", "", row.get("reason", "")])
                continue
            ratio = "-" if name == NO_STORE else f"{row['overhead_ratio']:.2f}×"
            paired = row.get("paired_ratios")
            spread = f"{paired['min']:.2f}–{paired['median']:.2f}–{paired['max']:.2f}" if paired else ""
            sink = row.get("sink")
            where = (
                f"first {sink['first_save_ms']:.1f} · events {sink['events_ms']:.1f} "
                f"({sink['event_batches']:g} batches) · final {sink['final_save_ms']:.1f}"
                if sink
                else ""
            )
            cells = [f"{row['median_ms']:.1f}", f"{row['us_per_task']:.1f}", ratio, spread]
            cells.append(f"{row['cpu_ms']:.1f}")
            out.append([workload, NAMES[name], *cells, where])
    return out


def render(result: dict[str, Any]) -> None:
    head = ["workload", "system", "ms", "µs/task", "ratio", "paired min–med–max", "cpu ms", "in the sink, ms"]
    table = [head, *rows(result)]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    tasks = result["config"]["tasks"]
    print(f"Store overhead: a {tasks}-task DAG, median of {result['config']['repeats']} runs")
    print("(paired: each repeat's stored ÷ unstored run, the two back to back)")
    for line in table:
        cells = zip(line, widths, strict=True)
        print("  ".join(c.ljust(w) if i < 2 or i == 7 else c.rjust(w) for i, (c, w) in enumerate(cells)))
    for target in result["targets"]:
        if target["target"] == "informative":
            print(f"{target['name']}: {target['value']} (informative)")
            continue
        verdict = {True: "PASS", False: "FAIL", None: "n/a"}[target["pass"]]
        print(f"{target['name']}: {target['value']} (target {target['target']}) {verdict}")


def main(argv: list[str] | None = None) -> int:
    return _common.main(
        argv,
        name="store",
        description=__doc__,
        quick_help="200 tasks, two repeats: a smoke test",
        seed_help="seed of the DAG",
        benchmark=benchmark,
        render=render,
    )


if __name__ == "__main__":
    raise SystemExit(main())
