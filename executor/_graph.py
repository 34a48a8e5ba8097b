"""The shape of a plan as the scheduler needs it: edges, handlers, sinks, priorities.

A task's **rank** is the number of tasks on the longest path from it to a sink, itself
included (a sink has rank 1). Among ready tasks the highest rank starts first. A handler
stands in for the task it handles, so it ranks at least as high as that task.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from planexec.schemas import PlanObject

__all__ = ["PlanGraph"]


@dataclass(frozen=True, slots=True)
class PlanGraph:
    dependencies: Mapping[str, tuple[str, ...]]
    dependents: Mapping[str, tuple[str, ...]]
    handles: Mapping[str, str]
    """handler id -> id of the task whose ``on_error`` names it."""
    topological: tuple[str, ...]
    rank: Mapping[str, int]
    sinks: tuple[str, ...]
    """Tasks nothing depends on, handlers excepted, in plan order."""

    @classmethod
    def of(cls, plan: PlanObject) -> PlanGraph:
        """Raises ValueError on an unknown dependency or a cycle (a plan that did not go
        through validation)."""
        tasks = plan.tasks
        dependencies: dict[str, tuple[str, ...]] = {}
        dependents: dict[str, list[str]] = {tid: [] for tid in tasks}
        waiting: dict[str, int] = {}
        order: list[str] = []
        for tid, task in tasks.items():
            deps = task.dependencies
            unique = tuple(deps) if len(deps) < 2 else tuple(dict.fromkeys(deps))
            dependencies[tid] = unique
            for dep in unique:
                children = dependents.get(dep)
                if children is None:
                    raise ValueError(f"task {tid!r} depends on unknown task {dep!r}")
                children.append(tid)
            waiting[tid] = len(unique)
            if not unique:
                order.append(tid)
        handlers = {task.on_error: tid for tid, task in tasks.items() if task.on_error}
        for handler, tid in handlers.items():
            if handler not in tasks:
                raise ValueError(f"task {tid!r} names unknown handler {handler!r}")

        for tid in order:  # Kahn's algorithm; the list grows while we walk it
            for child in dependents[tid]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    order.append(child)
        if len(order) != len(tasks):
            stuck = sorted(tid for tid in tasks if waiting[tid])
            raise ValueError(f"the plan has a cycle through {', '.join(stuck)}")

        rank: dict[str, int] = {}
        for tid in reversed(order):
            children = dependents[tid]
            rank[tid] = 1 + max(map(rank.__getitem__, children)) if children else 1
        for handler, tid in handlers.items():
            rank[handler] = max(rank[handler], rank[tid])

        return cls(
            dependencies=dependencies,
            dependents={tid: tuple(children) for tid, children in dependents.items()},
            handles=handlers,
            topological=tuple(order),
            rank=rank,
            sinks=tuple(tid for tid, children in dependents.items() if not children and tid not in handlers),
        )
