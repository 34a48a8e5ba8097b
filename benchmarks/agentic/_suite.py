"""What every suite provides, and the pieces the modes share: problems with their gold
plans and gold traces, reference resolution for the scripted policies, answer checking.

A :class:`Problem` holds a question, its gold plan (a PlanObject as JSON, without
``plan_id``), the gold answer, and the thoughts a ReAct agent would write before each
gold task. The gold trace of the reactive modes is derived from the gold plan: one task
per step in a topological order (:func:`sequential_trace`), or one dependency level per
turn (:func:`level_trace`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from planexec.registry import Catalog
from planexec.schemas import Ref, RefKind, parse_template

__all__ = [
    "Problem",
    "Suite",
    "answer_text",
    "compact",
    "level_trace",
    "numbers_match",
    "resolve",
    "sequential_trace",
    "words",
]


@dataclass(frozen=True)
class Problem:
    """One question of a suite.

    ``width`` is the largest number of gold tasks that can run at once (the widest
    dependency level); ``depth`` the number of levels.
    """

    id: str
    question: str
    gold_plan: dict[str, Any]
    gold_answer: Any
    thoughts: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def levels(self) -> list[list[str]]:
        return level_trace(self.gold_plan)

    @property
    def width(self) -> int:
        return max(len(level) for level in self.levels)

    @property
    def depth(self) -> int:
        return len(self.levels)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "inputs": self.inputs,
            "gold_plan": self.gold_plan,
            "gold_answer": self.gold_answer,
            "thoughts": self.thoughts,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Problem:
        return cls(
            id=str(data["id"]),
            question=str(data["question"]),
            gold_plan=dict(data["gold_plan"]),
            gold_answer=data["gold_answer"],
            thoughts=dict(data.get("thoughts", {})),
            inputs=dict(data.get("inputs", {})),
        )


@dataclass(frozen=True)
class Suite:
    """A named set of problems over one tool source.

    ``catalog`` makes the registry view both modes call (a fresh one per run, so tool
    state never leaks between runs); ``check`` says whether an answer text answers a
    problem; ``examples`` are worked problems shown to the model (never evaluated).
    """

    name: str
    description: str
    problems: list[Problem]
    examples: list[Problem]
    catalog: Callable[[], Catalog]
    check: Callable[[Problem, str], bool]
    final_answer: bool
    """Whether planned mode asks the model for a final answer by default (the joiner)."""


def _ordered_tasks(plan: Mapping[str, Any]) -> list[str]:
    return list(plan["tasks"])


def level_trace(plan: Mapping[str, Any]) -> list[list[str]]:
    """The plan's tasks by dependency level (a task's level is one more than its deepest
    dependency's), each level in the plan's task order."""
    tasks: Mapping[str, Any] = plan["tasks"]
    level: dict[str, int] = {}

    def depth_of(task_id: str, seen: tuple[str, ...] = ()) -> int:
        if task_id in level:
            return level[task_id]
        if task_id in seen:
            raise ValueError(f"gold plan has a cycle through {task_id!r}")
        deps = _dependencies(tasks[task_id])
        value = 1 + max((depth_of(d, (*seen, task_id)) for d in deps), default=-1)
        level[task_id] = value
        return value

    for task_id in tasks:
        depth_of(task_id)
    levels: list[list[str]] = [[] for _ in range(max(level.values()) + 1)]
    for task_id in _ordered_tasks(plan):
        levels[level[task_id]].append(task_id)
    return levels


def sequential_trace(plan: Mapping[str, Any]) -> list[list[str]]:
    """One task per step, level by level (a topological order)."""
    return [[task_id] for level in level_trace(plan) for task_id in level]


def _dependencies(task: Mapping[str, Any]) -> set[str]:
    deps = set(task.get("dependencies", []))
    for value in _strings(task.get("parameters", {})):
        for part in parse_template(value).parts:
            if isinstance(part, Ref) and part.task is not None:
                deps.add(part.task)
    return deps


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _lookup(ref: Ref, outputs: Mapping[str, Any], inputs: Mapping[str, Any]) -> Any:
    if ref.kind is RefKind.INPUTS:
        value: Any = inputs
    elif ref.kind is RefKind.OUTPUT and ref.task is not None:
        value = outputs[ref.task]
    else:
        raise KeyError(f"the scripted policy cannot read {ref}")
    for step in ref.path:
        value = value[step]
    return value


def resolve(value: Any, outputs: Mapping[str, Any], inputs: Mapping[str, Any] | None = None) -> Any:
    """``value`` with every ``$<...>`` reference replaced from ``outputs`` (task id ->
    output), as DESIGN §3 says: a whole reference keeps its JSON type, a reference inside
    a longer string is interpolated. Raises KeyError/IndexError/TypeError when a
    reference does not resolve."""
    inputs = inputs or {}
    if isinstance(value, str):
        template = parse_template(value)
        whole = template.whole
        if whole is not None:
            return _lookup(whole, outputs, inputs)
        return "".join(
            compact(_lookup(p, outputs, inputs)) if isinstance(p, Ref) else p for p in template.parts
        )
    if isinstance(value, Mapping):
        return {k: resolve(v, outputs, inputs) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, outputs, inputs) for v in value]
    return value


def compact(value: Any) -> str:
    """A string as it is, anything else as compact JSON (how tool results read as text)."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def answer_text(value: Any) -> str:
    """How an answer value is written in ``Finish[...]``: strings as they are, integral
    floats without ``.0``, everything else as compact JSON."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, str):
        return value
    return compact(value)


def numbers_match(answer: str, gold: float, *, tolerance: float = 1e-9) -> bool:
    """Whether ``answer`` is a number within ``tolerance`` (relative, or absolute near 0)
    of ``gold``."""
    try:
        value = float(answer.strip().replace(",", ""))
    except ValueError:
        return False
    return math.isclose(value, gold, rel_tol=tolerance, abs_tol=tolerance)


def words(values: Sequence[str]) -> str:
    """``A``, ``A and B``, ``A, B and C``."""
    if len(values) == 1:
        return values[0]
    return ", ".join(values[:-1]) + " and " + values[-1]
