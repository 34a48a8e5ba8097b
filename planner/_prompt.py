"""The planner's prompts, rendered from one versioned file (``prompts/plan.v1.md``).

A :class:`Prompt` is the opening messages of one planning conversation (system: the
PlanObject rules and a worked example; user: goal, context, inputs, tools) with the
prompt version and ``prompt_hash``, the sha256 of the rendered messages, so a stored plan
says exactly what its model was shown.

Catalog trimming: when the prompt would exceed the context budget, tools are ranked by
lexical overlap of the goal (and context) with their name (weighted 3) and description,
and the best are kept, in catalog order, until the budget is met (at least one tool is
always shown). The prompt then says how many tools were left out. Tokens are estimated
as characters / 4: cheap, and the budget is a guard, not an exact count.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from planexec.registry import ToolSpec
from planexec.schemas import PlanObject, Problem

from ._llm import Message

__all__ = [
    "PROMPT_VERSION",
    "Prompt",
    "completed_outputs",
    "estimate_tokens",
    "plan_prompt",
    "prompt_hash",
    "rank_tools",
    "repair_message",
    "replan_prompt",
]

PROMPT_VERSION = "plan.v1"
COMPLETED_INPUT = "completed"
"""The plan input under which a replan receives the outputs of completed tasks."""

_COMPLETED_STATUSES = ("succeeded", "recovered")
_SECTION = re.compile(r"^<!-- section: ([a-z_]+) -->\n", re.MULTILINE)
_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")
_WORD = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_STOPWORDS = frozenset(
    "a an and are as at be by do for from get give i in into is it its me my of on or "
    "please that the then this to use using with".split()
)
_NAME_WEIGHT = 3
_VALUE_CHARS = 400
_CONTEXT_CHARS = 8_000
_PLAN_CHARS = 12_000


@dataclass(frozen=True, slots=True)
class Prompt:
    """The opening messages of a planning conversation and what describes them."""

    messages: tuple[Message, ...]
    version: str
    hash: str
    trimmed_tools: int
    tools_shown: tuple[str, ...]


@cache
def _templates(version: str) -> dict[str, str]:
    text = resources.files("planexec.planner").joinpath("prompts", f"{version}.md").read_text("utf-8")
    parts = _SECTION.split(text)
    # parts: [preamble, name1, body1, name2, body2, ...]
    return {parts[i]: parts[i + 1].strip("\n") for i in range(1, len(parts), 2)}


def _render(section: str, **values: str) -> str:
    template = _templates(PROMPT_VERSION)[section]
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def estimate_tokens(text: str) -> int:
    """A cheap token estimate (characters / 4, rounded up)."""
    return (len(text) + 3) // 4


def prompt_hash(messages: Sequence[Message]) -> str:
    """sha256 of the messages as canonical JSON (role and content, in order)."""
    canonical = json.dumps(
        [{"role": m["role"], "content": m["content"]} for m in messages],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _truncated(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [truncated: {len(text)} characters in all]"


def _tool_line(spec: ToolSpec) -> str:
    entry: dict[str, Any] = {
        "name": spec.name,
        "description": spec.description,
        "input_schema": spec.input_schema,
    }
    if spec.output_schema is not None:
        entry["output_schema"] = spec.output_schema
    return _compact(entry)


def _words(text: str) -> set[str]:
    words = _WORD.findall(_CAMEL.sub(" ", text).lower())
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words if w not in _STOPWORDS}


def rank_tools(specs: Sequence[ToolSpec], query: str) -> list[ToolSpec]:
    """``specs`` best first by lexical overlap with ``query``; ties keep catalog order."""
    wanted = _words(query)

    def score(spec: ToolSpec) -> int:
        name = _words(spec.name.replace("_", " ").replace("-", " "))
        return _NAME_WEIGHT * len(wanted & name) + len(wanted & _words(spec.description))

    order = {spec.name: i for i, spec in enumerate(specs)}
    return sorted(specs, key=lambda s: (-score(s), order[s.name]))


def _select_tools(specs: Sequence[ToolSpec], query: str, budget: int) -> list[ToolSpec]:
    """The tools to show: all when they fit in ``budget`` tokens, else the most relevant
    that fit (at least one), in catalog order."""
    lines = {spec.name: _tool_line(spec) for spec in specs}
    if sum(estimate_tokens(line) + 1 for line in lines.values()) <= budget:
        return list(specs)
    kept: set[str] = set()
    used = 0
    for spec in rank_tools(specs, query):
        cost = estimate_tokens(lines[spec.name]) + 1
        if used + cost <= budget or not kept:
            kept.add(spec.name)
            used += cost
    return [spec for spec in specs if spec.name in kept]


def _context_text(context: str | Mapping[str, Any] | None) -> str:
    if context is None or context == "":
        return ""
    text = context if isinstance(context, str) else _compact(context)
    return _truncated(text, _CONTEXT_CHARS)


def _inputs_text(inputs: Mapping[str, Any]) -> str:
    return "\n".join(
        f"- {name}: {_truncated(_compact(value), _VALUE_CHARS)}" for name, value in inputs.items()
    )


def _user_message(
    goal: str,
    context: str,
    inputs: Mapping[str, Any],
    specs: Sequence[ToolSpec],
    shown: Sequence[ToolSpec],
) -> str:
    left_out = len(specs) - len(shown)
    return _render(
        "user",
        goal=goal,
        context=_render("context", context=context) + "\n" if context else "",
        inputs=_render("inputs", inputs=_inputs_text(inputs)) + "\n" if inputs else "",
        tool_count=str(len(shown)),
        tools="\n".join(_tool_line(spec) for spec in shown) or "(none)",
        trimmed=_render("trimmed", left_out=str(left_out), total=str(len(specs))) + "\n" if left_out else "",
    )


def _build(
    prefix: str,
    goal: str,
    context: str,
    inputs: Mapping[str, Any],
    specs: Sequence[ToolSpec],
    budget_tokens: int,
) -> Prompt:
    system = _render("system")
    bare = prefix + _user_message(goal, context, inputs, specs, [])
    # The trimmed note is a few dozen tokens: reserve room for it up front.
    budget = budget_tokens - estimate_tokens(system) - estimate_tokens(bare) - 60
    shown = _select_tools(specs, f"{goal}\n{context}", budget)
    messages: tuple[Message, ...] = (
        {"role": "system", "content": system},
        {"role": "user", "content": prefix + _user_message(goal, context, inputs, specs, shown)},
    )
    return Prompt(
        messages=messages,
        version=PROMPT_VERSION,
        hash=prompt_hash(messages),
        trimmed_tools=len(specs) - len(shown),
        tools_shown=tuple(spec.name for spec in shown),
    )


def plan_prompt(
    goal: str,
    specs: Sequence[ToolSpec],
    *,
    context: str | Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    budget_tokens: int = 12_000,
) -> Prompt:
    """The opening messages for planning ``goal`` with the tools ``specs``."""
    return _build("", goal, _context_text(context), inputs or {}, specs, budget_tokens)


def completed_outputs(plan: PlanObject, record: Mapping[str, Any]) -> dict[str, Any]:
    """What a revised plan receives as ``inputs.completed``: the outputs the plan itself
    was handed as completed (a replan of a replan), then the outputs of the plan's tasks
    that this run completed — succeeded or recovered; a compensated task's work was
    undone, so it is not complete — in plan order."""
    tasks: Mapping[str, Any] = record.get("tasks") or {}
    earlier = plan.inputs.get(COMPLETED_INPUT)
    done: dict[str, Any] = dict(earlier) if isinstance(earlier, Mapping) else {}
    for task_id in plan.tasks:
        entry = tasks.get(task_id)
        if isinstance(entry, Mapping) and entry.get("status") in _COMPLETED_STATUSES:
            done[task_id] = entry.get("output")
    return done


def _outcomes(plan: PlanObject, tasks: Mapping[str, Any]) -> str:
    lines = []
    for task_id, task in plan.tasks.items():
        entry = tasks.get(task_id)
        status = entry.get("status", "unknown") if isinstance(entry, Mapping) else "not started"
        handled = entry.get("handled_by") if isinstance(entry, Mapping) else None
        suffix = f" by handler {handled}" if handled and status == "recovered" else ""
        lines.append(f"- {task_id} ({task.tool_name}): {status}{suffix}")
    return "\n".join(lines)


def _failures(tasks: Mapping[str, Any], run_error: Any) -> str:
    lines = []
    for task_id, entry in tasks.items():
        if isinstance(entry, Mapping) and entry.get("status") == "failed":
            lines.append(f"- {task_id}: {_truncated(_compact(entry.get('error')), _VALUE_CHARS)}")
    if run_error and not lines:
        lines.append(f"- (run): {_truncated(_compact(run_error), _VALUE_CHARS)}")
    return "\n".join(lines)


def _plan_json(plan: PlanObject) -> dict[str, Any]:
    """The plan as the model needs to read it: without fields left at their defaults."""
    data: dict[str, Any] = plan.model_dump(mode="json", exclude_defaults=True)
    data.pop("inputs", None)  # shown as plan inputs, and completed outputs separately
    data.pop("plan_id", None)  # the revised plan gets its own
    return data


def replan_prompt(
    goal: str,
    plan: PlanObject,
    record: Mapping[str, Any],
    specs: Sequence[ToolSpec],
    *,
    budget_tokens: int = 12_000,
) -> Prompt:
    """The opening messages for revising ``plan`` after its run ``record`` failed or was
    cancelled: outcomes per task, completed outputs (as ``inputs.completed``) and errors."""
    tasks: Mapping[str, Any] = record.get("tasks") or {}
    completed = completed_outputs(plan, record)
    inputs = {k: v for k, v in plan.inputs.items() if k != COMPLETED_INPUT}
    completed_lines = "\n".join(
        f"- {task_id}: {_truncated(_compact(output), _VALUE_CHARS)}" for task_id, output in completed.items()
    )
    failures = _failures(tasks, record.get("error"))
    prefix = _render(
        "replan",
        run_id=str(record.get("run_id", "?")),
        status=str(record.get("status", "?")),
        plan=_truncated(_compact(_plan_json(plan)), _PLAN_CHARS),
        outcomes=_outcomes(plan, tasks),
        completed="\n" + _render("completed", completed=completed_lines) + "\n" if completed else "",
        failed="\n" + _render("failed", failed=failures) + "\n" if failures else "",
    )
    return _build(prefix + "\n\n", goal, "", inputs, specs, budget_tokens)


def repair_message(errors: Iterable[Problem]) -> Message:
    """The user turn asking for a corrected plan: every error as JSON, one per line."""
    listed = [
        _compact({"code": str(p.code), "path": p.path, "message": p.message, "hint": p.hint}) for p in errors
    ]
    return {"role": "user", "content": _render("repair", errors="[\n" + ",\n".join(listed) + "\n]")}
