"""Every reference of a plan, parsed once and shared by the checks that need it."""

from __future__ import annotations

from typing import Any

from planexec.schemas import ReferenceSyntaxError, Template, iter_refs

__all__ = ["Location", "References", "find_references"]

Location = tuple[str | int, ...]
Found = list[tuple[Location, Template | ReferenceSyntaxError]]


class References:
    """Parsed references by place: task parameters, compensation parameters, output.

    Locations are relative to the parameters object (or to ``output``).
    """

    def __init__(self) -> None:
        self.parameters: dict[str, Found] = {}
        self.compensation: dict[str, Found] = {}
        self.output: Found = []


def find_references(document: dict[str, Any]) -> References:
    found = References()
    tasks = document.get("tasks")
    for task_id, task in tasks.items() if isinstance(tasks, dict) else ():
        if not isinstance(task, dict):
            continue
        if isinstance(task.get("parameters"), dict):
            found.parameters[task_id] = list(iter_refs(task["parameters"]))
        compensation = task.get("compensation")
        if isinstance(compensation, dict) and isinstance(compensation.get("parameters"), dict):
            found.compensation[task_id] = list(iter_refs(compensation["parameters"]))
    if "output" in document:
        found.output = list(iter_refs(document["output"]))
    return found
