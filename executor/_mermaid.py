"""Plans and runs as Mermaid ``flowchart`` text (``planexec graph``, the graph resource).

Tasks are nodes (labelled with id and tool), dependencies are solid arrows from the
dependency to the dependent, a handler hangs off its task on a dotted ``on error`` arrow,
and a compensation is a subroutine-shaped node on a dotted ``undo`` arrow. With a run
record, every task node gets its status as a class (``classDef`` per status), and so does
each compensation that ran. Node ids are generated (``t0``, ``t1``...), so any task id is
safe; labels are escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planexec.schemas import PlanObject

__all__ = ["render_mermaid"]

_STYLES = {
    "pending": "fill:#f6f8fa,stroke:#8c959f,color:#24292f",
    "running": "fill:#ddf4ff,stroke:#0969da,color:#0a3069",
    "succeeded": "fill:#dafbe1,stroke:#1a7f37,color:#0f5323",
    "recovered": "fill:#fff8c5,stroke:#9a6700,color:#4d2d00",
    "failed": "fill:#ffebe9,stroke:#cf222e,color:#82071e",
    "skipped": "fill:#f6f8fa,stroke:#d0d7de,color:#57606a,stroke-dasharray:4 3",
    "cancelled": "fill:#fbefff,stroke:#8250df,color:#3e1f79",
    "compensated": "fill:#ddf4ff,stroke:#1f6feb,color:#0a3069",
    "compensation_failed": "fill:#ffebe9,stroke:#a40e26,color:#82071e,stroke-width:3px",
}


def _label(text: str) -> str:
    escaped = text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    return f'"{escaped}"'


def render_mermaid(plan: PlanObject, record: Mapping[str, Any] | None = None) -> str:
    """Mermaid text for ``plan``; with ``record`` (a run record as JSON), statuses too."""
    ids = {task_id: f"t{index}" for index, task_id in enumerate(plan.tasks)}
    handler_of = {t.on_error: tid for tid, t in plan.tasks.items() if t.on_error}
    task_records: Mapping[str, Any] = (record or {}).get("tasks") or {}
    lines = ["flowchart TD"]
    classes: dict[str, list[str]] = {}

    for task_id, task in plan.tasks.items():
        node = ids[task_id]
        shape = (
            f"{node}{{{{{_label(f'{task_id} · {task.tool_name}')}}}}}"
            if task_id in handler_of
            else f"{node}[{_label(f'{task_id} · {task.tool_name}')}]"
        )
        lines.append(f"    {shape}")
        status = (task_records.get(task_id) or {}).get("status") if record is not None else None
        if status:
            classes.setdefault(str(status), []).append(node)
        if task.compensation is not None:
            undo = f"{node}_undo"
            lines.append(f"    {undo}[[{_label(f'undo · {task.compensation.tool_name}')}]]")
            lines.append(f"    {node} -. undo .-> {undo}")
            compensation = (task_records.get(task_id) or {}).get("compensation")
            if isinstance(compensation, Mapping) and compensation.get("status"):
                classes.setdefault(str(compensation["status"]), []).append(undo)

    for task_id, task in plan.tasks.items():
        for dependency in task.dependencies:
            if dependency in ids:
                lines.append(f"    {ids[dependency]} --> {ids[task_id]}")
        if task.on_error and task.on_error in ids:
            lines.append(f"    {ids[task_id]} -. on error .-> {ids[task.on_error]}")

    if record is not None:
        for status, style in _STYLES.items():
            lines.append(f"    classDef {status} {style}")
        for status, nodes in classes.items():
            lines.append(f"    class {','.join(nodes)} {status}")
    return "\n".join(lines) + "\n"
