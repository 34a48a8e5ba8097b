"""Human-readable tables of a result (rich when available, plain text otherwise)."""

from __future__ import annotations

from typing import Any

Table = tuple[str, str, list[str], list[list[str]]]  # title, caption, header, rows

NAMES = {
    "planexec": "planexec",
    "gather_floor": "asyncio.gather floor",
    "level_by_level": "level-by-level",
    "ready_queue_reference": "ready-queue reference",
    "langgraph": "LangGraph",
    "registry_call_diagnostic": "(registry call only)",
}


def _cell(entry: dict[str, Any], key: str, fmt: str) -> str:
    if entry.get("status") != "ok":
        return entry.get("status", "-")
    value = entry.get(key)
    return "-" if value is None else format(value, fmt)


def tables(result: dict[str, Any]) -> list[Table]:
    overhead = result["overhead"]
    sizes = [str(d["tasks"]) for d in overhead["dags"]]
    rows = [
        [NAMES.get(name, name), *(_cell(row["sizes"][s], "us_per_task", ".2f") for s in sizes)]
        for name, row in overhead["systems"].items()
    ]
    ratios = overhead["langgraph_over_planexec"]
    rows.append(["LangGraph ÷ planexec", *("-" if ratios[s] is None else f"{ratios[s]:.1f}×" for s in sizes)])
    caption = "random no-op DAGs: " + "; ".join(
        f"{d['tasks']} tasks, {d['levels']} levels, {d['edges']} edges" for d in overhead["dags"]
    )
    first = ("(a) Per-task overhead, µs/task (median wall time / tasks)", caption, ["system", *sizes], rows)

    makespan = result["makespan"]
    modes = makespan["modes"]
    head = ["system"]
    for mode in modes:
        head += [f"{mode} ms", f"{mode} ratio"]
    mrows = []
    for name in next(iter(modes.values()))["systems"]:
        line = [NAMES.get(name, name)]
        for mode in modes.values():
            entry = mode["systems"][name]
            line += [_cell(entry, "makespan_ms", ".1f"), _cell(entry, "ratio", ".3f")]
        mrows.append(line)
    sim = ["simulated §5 list schedule"]
    bound = ["bound"]
    for mode in modes.values():
        sim += [f"{mode['simulated_list_schedule_ms']:.1f}", f"{mode['simulated_ratio']:.3f}"]
        bound += [f"{mode['bound_ms']:.1f}", "1"]
    mrows += [sim, bound]
    dag = makespan["dag"]
    lat = makespan["latency"]
    caption = (
        f"{dag['tasks']} tasks, {dag['levels']} levels; critical path {lat['critical_path_ms']:.0f} ms, "
        f"work {lat['total_work_ms']:.0f} ms; bound: "
        + "; ".join(f"{name}: {mode['bound']}" for name, mode in modes.items())
    )
    second = ("(b) Makespan with random tool latencies (ms, and ÷ bound)", caption, head, mrows)

    trows = []
    for target in result["targets"]:
        value = target["value"]
        verdict = {True: "PASS", False: "FAIL", None: "n/a"}[target["pass"]]
        goal = f" (goal {target['goal']})" if "goal" in target else ""
        trows.append(
            [target["name"], "-" if value is None else f"{value:g}", target["target"] + goal, verdict]
        )
    third = ("Targets", "", ["target", "value", "threshold", "result"], trows)
    return [first, second, third]


def render(result: dict[str, Any]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table as RichTable
    except ImportError:
        _render_plain(result)
        return
    console = Console()
    if not console.is_terminal:
        console.width = 120
    for title, caption, head, rows in tables(result):
        table = RichTable(
            title=title,
            caption=caption or None,
            title_justify="left",
            caption_justify="left",
            min_width=len(title) + 4,
        )
        for i, column in enumerate(head):
            table.add_column(column, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)


def _render_plain(result: dict[str, Any]) -> None:
    for title, caption, head, rows in tables(result):
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        print(title)
        for row in [head, *rows]:
            cells = (
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
            print("  ".join(cells))
        if caption:
            print(caption)
        print()
