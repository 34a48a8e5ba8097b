"""What ``planexec runs diff A B`` compares between two stored run records.

Run level: ``status``, ``output``, ``error``. Per task (tasks of A in A's order, then
tasks only B has): whether the task is there at all (``present``), then ``status``,
``output``, ``error``, ``attempts`` (the number of attempts) and ``compensation`` (its
status, or null when none ran). Values are compared as canonical JSON: key order does
not matter, types do (``1``, ``1.0`` and ``true`` all differ). Times and run ids are
never compared: two runs of one plan differ in those by construction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Difference", "diff_runs"]

RUN_FIELDS = ("status", "output", "error")


@dataclass(frozen=True)
class Difference:
    """One field that differs: ``task_id`` is None for a run-level field."""

    task_id: str | None
    field: str
    a: Any
    b: Any

    def as_json(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "field": self.field, "a": self.a, "b": self.b}


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def _task_fields(task: Mapping[str, Any]) -> dict[str, Any]:
    attempts = task.get("attempts")
    compensation = task.get("compensation")
    return {
        "status": task.get("status"),
        "output": task.get("output"),
        "error": task.get("error"),
        "attempts": len(attempts) if isinstance(attempts, list) else 0,
        "compensation": compensation.get("status") if isinstance(compensation, Mapping) else None,
    }


def _tasks(record: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    tasks = record.get("tasks")
    return tasks if isinstance(tasks, Mapping) else {}


def diff_runs(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Difference]:
    """Every difference between run records ``a`` and ``b``, run-level fields first,
    then tasks in the order the module docstring gives; empty when they are equal."""
    differences = [
        Difference(None, field, a.get(field), b.get(field))
        for field in RUN_FIELDS
        if not _same(a.get(field), b.get(field))
    ]
    tasks_a, tasks_b = _tasks(a), _tasks(b)
    for task_id in [*tasks_a, *(t for t in tasks_b if t not in tasks_a)]:
        if task_id not in tasks_a or task_id not in tasks_b:
            differences.append(Difference(task_id, "present", task_id in tasks_a, task_id in tasks_b))
            continue
        fields_a, fields_b = _task_fields(tasks_a[task_id]), _task_fields(tasks_b[task_id])
        differences.extend(
            Difference(task_id, field, fields_a[field], fields_b[field])
            for field in fields_a
            if not _same(fields_a[field], fields_b[field])
        )
    return differences
