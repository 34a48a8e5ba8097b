"""How ``planexec runs show`` draws a stored run record (DESIGN §5 shape, as JSON).

Three parts: a table of tasks (status, attempts, duration, error code), every attempt of
every task and compensation, and a timeline — a text Gantt chart whose bars are the
attempts' start and finish times relative to the run's start, scaled to the run's
length. Records are read defensively: a missing time or field shows as ``-``, never
fails the command.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

__all__ = ["Bar", "parse_time", "render_run", "timeline"]

STATUS_STYLE = {
    "pending": "dim",
    "running": "cyan",
    "succeeded": "green",
    "recovered": "green",
    "failed": "red",
    "skipped": "dim",
    "cancelled": "magenta",
    "compensated": "blue",
    "compensation_failed": "red",
}
_OK, _FAILED = "█", "▒"


def parse_time(value: object) -> datetime | None:
    """A record's ISO 8601 time, or None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _seconds(start: object, end: object) -> float | None:
    began, ended = parse_time(start), parse_time(end)
    if began is None or ended is None:
        return None
    return (ended - began).total_seconds()


def _fmt_seconds(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "-"
    if abs(value) < 0.001:
        text = f"{value * 1_000_000:.0f} µs"
    elif abs(value) < 1:
        text = f"{value * 1000:.1f} ms"
    else:
        text = f"{value:.3f} s" if abs(value) < 10 else f"{value:.1f} s"
    return f"+{text}" if signed else text


def _compact(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tasks(record: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    tasks = record.get("tasks")
    return tasks if isinstance(tasks, Mapping) else {}


def _attempts(holder: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    attempts = (holder or {}).get("attempts")
    return [a for a in attempts if isinstance(a, Mapping)] if isinstance(attempts, list) else []


def _error_code(error: object) -> str:
    return str(error.get("code", "?")) if isinstance(error, Mapping) else ""


def _lanes(record: Mapping[str, Any]) -> Iterator[tuple[str, list[Mapping[str, Any]]]]:
    """Each task's attempts, then (on a lane of its own) its compensation's."""
    for task_id, task in _tasks(record).items():
        yield task_id, _attempts(task)
        compensation = task.get("compensation")
        if isinstance(compensation, Mapping):
            yield f"{task_id} (undo)", _attempts(compensation)


@dataclass(frozen=True)
class Bar:
    """One lane of the timeline: its label and, per column, ``" "``, ``█`` (an attempt
    that succeeded) or ``▒`` (one that failed)."""

    label: str
    cells: str


def timeline(record: Mapping[str, Any], width: int = 48) -> tuple[list[Bar], float]:
    """The Gantt lanes of ``record`` and the span they cover, in seconds.

    The span runs from the run's ``started_at`` to its ``finished_at`` (to the last
    attempt's finish while the run is still going). Every attempt with both times covers
    at least one column; a later attempt overwrites an earlier one where they share a
    column.
    """
    start = parse_time(record.get("started_at"))
    finishes = [parse_time(a.get("finished_at")) for _, attempts in _lanes(record) for a in attempts] + [
        parse_time(record.get("finished_at"))
    ]
    known = [f for f in finishes if f is not None]
    if start is None or not known:
        return [], 0.0
    span = max((max(known) - start).total_seconds(), 1e-6)
    bars = []
    for label, attempts in _lanes(record):
        cells = [" "] * width
        for attempt in attempts:
            began = _seconds(record.get("started_at"), attempt.get("started_at"))
            ended = _seconds(record.get("started_at"), attempt.get("finished_at"))
            if began is None or ended is None:
                continue
            first = min(width - 1, max(0, math.floor(began / span * width)))
            last = min(width, max(first + 1, math.ceil(ended / span * width)))
            mark = _FAILED if attempt.get("error") is not None else _OK
            cells[first:last] = [mark] * (last - first)
        bars.append(Bar(label, "".join(cells)))
    return bars, span


def _header(record: Mapping[str, Any]) -> Text:
    status = str(record.get("status", "?"))
    text = Text.assemble(
        ("run ", "bold"),
        (status, f"bold {STATUS_STYLE.get(status, '')}"),
        f"  {record.get('run_id', '?')}\n",
        ("plan ", "dim"),
        f"{record.get('plan_id', '?')}  ",
        ("started ", "dim"),
        f"{record.get('started_at') or '-'}  ",
        ("duration ", "dim"),
        _fmt_seconds(_seconds(record.get("started_at"), record.get("finished_at"))),
    )
    error = record.get("error")
    if isinstance(error, Mapping):
        text.append(f"\n{error.get('code', '?')}: {error.get('message', '')}", style="red")
    if status == "succeeded":
        text.append("\noutput ", style="dim")
        text.append(_compact(record.get("output"), 200))
    return text


def _task_table(record: Mapping[str, Any]) -> Table:
    table = Table(title="tasks", title_justify="left", box=None, pad_edge=False)
    for column in ("task", "status", "attempts", "duration", "error"):
        table.add_column(column, no_wrap=column == "task")
    for task_id, task in _tasks(record).items():
        status = str(task.get("status", "?"))
        attempts = _attempts(task)
        duration = (
            _seconds(attempts[0].get("started_at"), attempts[-1].get("finished_at")) if attempts else None
        )
        note = _error_code(task.get("error"))
        if task.get("handled_by"):
            note = f"{note} (handled by {task['handled_by']})".strip()
        table.add_row(
            escape(task_id),
            Text(status, style=STATUS_STYLE.get(status, "")),
            str(len(attempts)),
            _fmt_seconds(duration),
            escape(note),
        )
    return table


def _attempt_table(record: Mapping[str, Any]) -> Table:
    table = Table(title="attempts", title_justify="left", box=None, pad_edge=False)
    for column in ("task", "n", "start", "duration", "result"):
        table.add_column(column, no_wrap=column != "result")
    for label, attempts in _lanes(record):
        for attempt in attempts:
            error = attempt.get("error")
            if isinstance(error, Mapping):
                result = Text(f"{error.get('code', '?')}: {error.get('message', '')}", style="red")
            else:
                result = Text(_compact(attempt.get("output")))
            table.add_row(
                escape(label),
                str(attempt.get("n", "?")),
                _fmt_seconds(_seconds(record.get("started_at"), attempt.get("started_at")), signed=True),
                _fmt_seconds(_seconds(attempt.get("started_at"), attempt.get("finished_at"))),
                result,
            )
    return table


def _timeline_table(record: Mapping[str, Any]) -> RenderableType:
    bars, span = timeline(record)
    if not bars:
        return Text("timeline: no timed attempts", style="dim")
    table = Table(
        title=f"timeline (0 → {_fmt_seconds(span)}; {_OK} attempt, {_FAILED} failed attempt)",
        title_justify="left",
        box=None,
        pad_edge=False,
    )
    table.add_column("task", no_wrap=True)
    table.add_column("", no_wrap=True)
    for bar in bars:
        table.add_row(escape(bar.label), Text(f"|{bar.cells}|", style="cyan"))
    return table


def render_run(console: Console, record: Mapping[str, Any]) -> None:
    """Print the header, the task table, every attempt and the timeline."""
    console.print(
        Group(_header(record), Text(), _task_table(record), Text(), _attempt_table(record), Text()),
        soft_wrap=False,
    )
    console.print(_timeline_table(record))
