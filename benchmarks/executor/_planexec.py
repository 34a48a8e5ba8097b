"""The one place the benchmark touches planexec's executor (the adapter).

Contract used: ``record = await Executor(catalog).run(plan)``; ``record.status`` and the
task statuses are StrEnums; ``record.tasks[id].attempts[0].started_at/finished_at`` are
ISO 8601 UTC with microseconds in the JSON form (datetimes on the model).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from planexec.registry import Catalog, PythonToolSource
from planexec.schemas import PlanObject

from ._systems import noop, work


def unavailable_reason() -> str | None:
    """None when ``planexec.executor.Executor`` imports, else why it does not."""
    try:
        from planexec.executor import Executor  # noqa: F401
    except ImportError as error:
        return f"planexec.executor.Executor is not importable: {error}"
    return None


def executor_settings() -> dict[str, Any]:
    """How the executor is built here: plain ``Executor(catalog)``, so its default limits apply."""
    settings: dict[str, Any] = {"constructed_as": "Executor(catalog)"}
    try:
        from planexec.executor import Limits
    except ImportError:
        return settings
    defaults = Limits()
    settings["default_limits"] = {
        "max_concurrency": defaults.max_concurrency,
        "per_server": dict(defaults.per_server),
    }
    return settings


def bench_catalog() -> Catalog:
    return Catalog([PythonToolSource("bench", [noop, work])])


def make_plan(plan: dict[str, Any]) -> PlanObject:
    return PlanObject.model_validate(plan)


@dataclass(frozen=True)
class PlanexecRun:
    status: str
    task_statuses: dict[str, int]
    spans: list[tuple[float, float]] | None  # per node, seconds since the epoch


async def run_planexec(catalog: Catalog, plan: PlanObject) -> Any:
    """Run ``plan`` with planexec's executor and return its run record (the timed call)."""
    from planexec.executor import Executor

    return await Executor(catalog).run(plan)


def summarize(record: Any, ids: Sequence[str] | None = None) -> PlanexecRun:
    """Statuses of a run record and, with ``ids``, each task's first-attempt span in order."""
    counts: dict[str, int] = {}
    for task in record.tasks.values():
        key = str(task.status)
        counts[key] = counts.get(key, 0) + 1
    spans = None
    if ids is not None:
        spans = []
        for task_id in ids:
            attempt = record.tasks[task_id].attempts[0]
            spans.append((_seconds(attempt.started_at), _seconds(attempt.finished_at)))
    return PlanexecRun(str(record.status), counts, spans)


def _seconds(stamp: datetime | str) -> float:
    # The record holds datetimes; its JSON form holds ISO 8601 strings. Accept both.
    if isinstance(stamp, str):
        stamp = datetime.fromisoformat(stamp)
    return stamp.timestamp()
