"""Reactive mode: a ReAct loop, and its parallel-function-calling variant.

**ReAct** (``reactive``): each turn the model gets the whole transcript — system prompt
(tool descriptions with their argument schemas, the answer format, worked examples),
the question, and every earlier Thought/Action/Observation — and answers with one
``Thought:`` and one ``Action: TOOL {json arguments}``. The tool is called, its result
appended as ``Observation: ...``, and the model asked again, until it answers
``Action: Finish[answer]``.

**Parallel function calling** (``reactive_parallel``): a turn may hold several
``Action:`` lines; they run concurrently and the next turn sees ``Observation 1: ...``,
``Observation 2: ...`` in order.

The simulated policy (:func:`gold_policy`) follows the gold trace: one gold task per
turn in a topological order (or one dependency level per turn, parallel variant), its
arguments filled from the observations it reads back out of the transcript.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from planexec.planner import LLM, Message
from planexec.registry import ToolCallError, ToolView

from ._llm import Policy
from ._suite import Problem, answer_text, compact, level_trace, resolve, sequential_trace

__all__ = ["ReactOutcome", "gold_policy", "parse_turn", "react_system_prompt", "run_reactive", "trajectory"]

_RULES = """You answer questions by calling tools, step by step.
Each turn, write exactly:
Thought: <your reasoning>
Action: <tool name> <JSON object with the tool's arguments>
You then receive "Observation: <the tool's result as JSON>". Go on until you know the
answer, then write:
Thought: <your reasoning>
Action: Finish[<the answer alone>]"""

_PARALLEL_RULES = """You answer questions by calling tools, step by step.
Each turn, write one Thought and one or more Actions:
Thought: <your reasoning>
Action: <tool name> <JSON object with the tool's arguments>
Action: <another call that does not need the first one's result>
All the actions of a turn run at the same time. You then receive one line per action,
in order: "Observation 1: <result as JSON>", "Observation 2: ...". Go on until you know
the answer, then write:
Thought: <your reasoning>
Action: Finish[<the answer alone>]"""

# "Action: tool {...}", also "Action 2: tool[{...}]" and "tool({...})", as models write it.
_ACTION = re.compile(
    r"^\s*Action\s*\d*\s*:\s*(?P<tool>[A-Za-z0-9_-]+)\s*[\[(]?\s*(?P<args>\{.*\})\s*[\])]?\s*$"
)
_FINISH = re.compile(r"^\s*(?:Action\s*\d*\s*:\s*)?Finish\s*\[(?P<answer>.*)\]\s*$")
_OBSERVATION = re.compile(r"^Observation(?: \d+)?: (?P<body>.*)$")


def _tool_lines(tools: ToolView) -> str:
    lines = []
    for spec in sorted(tools.specs(), key=lambda s: s.name):
        schema = {k: v for k, v in spec.input_schema.items() if k != "title"}
        lines.append(
            f"- {spec.name}: {spec.description} Arguments: {json.dumps(schema, separators=(',', ':'))}"
        )
    return "\n".join(lines)


def react_system_prompt(tools: ToolView, examples: Sequence[str], *, parallel: bool) -> str:
    text = f"{_PARALLEL_RULES if parallel else _RULES}\n\nTools:\n{_tool_lines(tools)}"
    if examples:
        text += "\n\nExamples:\n\n" + "\n\n".join(examples)
    return text


@dataclass(frozen=True)
class Turn:
    """What one model answer asks for: tool calls, or a final answer, or neither."""

    actions: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    finish: str | None = None
    problems: list[str] = field(default_factory=list)


def parse_turn(text: str) -> Turn:
    """The actions (or ``Finish[...]``) in a model's answer; a malformed action line is
    a problem reported back to the model as its observation."""
    actions: list[tuple[str, dict[str, Any]]] = []
    problems: list[str] = []
    for line in text.splitlines():
        finish = _FINISH.match(line)
        if finish:
            return Turn(finish=finish.group("answer").strip())
        if not line.strip().startswith("Action"):
            continue
        match = _ACTION.match(line)
        if match is None:
            problems.append(f"could not read {line.strip()!r}: write Action: <tool> {{json arguments}}")
            continue
        try:
            arguments = json.loads(match.group("args"))
        except json.JSONDecodeError as error:
            problems.append(f"the arguments of {match.group('tool')} are not JSON: {error}")
            continue
        if isinstance(arguments, dict):
            actions.append((match.group("tool"), arguments))
        else:
            problems.append(f"the arguments of {match.group('tool')} must be a JSON object")
    return Turn(actions=actions, problems=problems)


async def _call(tools: ToolView, name: str, arguments: Mapping[str, Any]) -> str:
    """The observation of one call: its output as compact JSON, or ``ERROR code: message``."""
    try:
        result = await tools.call(name, arguments, {})
    except ToolCallError as error:
        return f"ERROR {error.code}: {error.message}"
    if result.is_error:
        return f"ERROR tool_error: {result.error_message()}"
    if result.structured_content is not None:
        return compact(result.structured_content)
    return " ".join(str(block.get("text", "")) for block in result.content)


async def _observe(tools: ToolView, calls: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
    results = [""] * len(calls)

    async def one(index: int, name: str, arguments: Mapping[str, Any]) -> None:
        results[index] = await _call(tools, name, arguments)

    async with anyio.create_task_group() as group:
        for index, (name, arguments) in enumerate(calls):
            group.start_soon(one, index, name, arguments)
    return results


def _observation_message(observations: Sequence[str], *, parallel: bool) -> str:
    if not parallel:
        return f"Observation: {observations[0]}"
    return "\n".join(f"Observation {i + 1}: {o}" for i, o in enumerate(observations))


@dataclass
class ReactOutcome:
    answer: str | None
    turns: int
    tool_calls: int


async def run_reactive(
    problem: Problem, tools: ToolView, llm: LLM, system: str, *, parallel: bool, max_turns: int
) -> ReactOutcome:
    """Run the loop until ``Finish[...]`` or ``max_turns`` model calls (then no answer).
    The sequential variant calls only the first action of a turn."""
    messages: list[Message] = [
        {"role": "system", "content": system},
        {"role": "user", "content": f"Question: {problem.question}"},
    ]
    calls = 0
    for turn in range(1, max_turns + 1):
        completion = await llm.complete(messages)
        parsed = parse_turn(completion.text)
        if parsed.finish is not None:
            return ReactOutcome(parsed.finish, turn, calls)
        actions = parsed.actions if parallel else parsed.actions[:1]
        if actions:
            observations = await _observe(tools, actions)
            calls += len(actions)
        else:
            observations = ["ERROR no action: " + ("; ".join(parsed.problems) or "write an Action line")]
        messages.append({"role": "assistant", "content": completion.text})
        messages.append({"role": "user", "content": _observation_message(observations, parallel=parallel)})
    return ReactOutcome(None, max_turns, calls)


def _trace(problem: Problem, parallel: bool) -> list[list[str]]:
    return level_trace(problem.gold_plan) if parallel else sequential_trace(problem.gold_plan)


def _thought(problem: Problem, trace: Sequence[Sequence[str]], turn: int, outputs: Mapping[str, Any]) -> str:
    """What a ReAct model writes before acting: on the first turn an outline of the
    whole solution (as ReAct's first thoughts do), later a recap of what the last
    observations said, then what this turn does."""
    now = " ".join(problem.thoughts.get(t, f"Next, {t}.") for t in trace[turn])
    if turn == 0:
        steps = [problem.thoughts.get(t, t).rstrip(".") for step in trace for t in step]
        outline = "; ".join(s[0].lower() + s[1:] for s in steps if s)
        return f"To answer this I will go step by step: {outline}. {now}"
    seen = "; ".join(f"{compact(outputs[t])}" for t in trace[turn - 1] if t in outputs)
    return f"The last step gave {seen}. {now}"


def _turn_text(
    problem: Problem, trace: Sequence[Sequence[str]], turn: int, outputs: Mapping[str, Any]
) -> str:
    tasks = problem.gold_plan["tasks"]
    actions = [
        f"Action: {tasks[t]['tool_name']} "
        + json.dumps(resolve(tasks[t]["parameters"], outputs, problem.inputs), ensure_ascii=False)
        for t in trace[turn]
    ]
    return "\n".join([f"Thought: {_thought(problem, trace, turn, outputs)}", *actions])


def _finish_text(problem: Problem, outputs: Mapping[str, Any]) -> str:
    answer = answer_text(resolve(problem.gold_plan["output"], outputs, problem.inputs))
    return f"Thought: I now know the answer.\nAction: Finish[{answer}]"


def gold_policy(problem: Problem, *, parallel: bool) -> Policy:
    """The scripted ReAct model: turn k performs gold step k (a task, or a dependency
    level), its arguments resolved from the observations in the transcript; after the
    last step it finishes with the gold plan's output. An observation it cannot read
    (a tool error) ends the episode without an answer."""
    trace = _trace(problem, parallel)

    def policy(messages: Sequence[Message]) -> str:
        outputs: dict[str, Any] = {}
        turn = 0
        for message in messages[2:]:
            if message["role"] == "assistant":
                turn += 1
                continue
            bodies = [
                m.group("body") for line in message["content"].splitlines() if (m := _OBSERVATION.match(line))
            ]
            for task_id, body in zip(trace[turn - 1], bodies, strict=False):
                try:
                    outputs[task_id] = json.loads(body)
                except json.JSONDecodeError:
                    outputs[task_id] = body
        try:
            if turn < len(trace):
                return _turn_text(problem, trace, turn, outputs)
            return _finish_text(problem, outputs)
        except (KeyError, IndexError, TypeError):
            return "Thought: A step failed, so I cannot work the answer out.\nAction: Finish[unknown]"

    return policy


async def trajectory(problem: Problem, tools: ToolView, *, parallel: bool) -> str:
    """A worked example for the system prompt: the gold trace run against the tools, as
    the transcript a model following it would produce."""
    lines = [f"Question: {problem.question}"]
    outputs: dict[str, Any] = {}
    trace = _trace(problem, parallel)
    for turn, step in enumerate(trace):
        text = _turn_text(problem, trace, turn, outputs)
        tasks = problem.gold_plan["tasks"]
        calls = [
            (tasks[t]["tool_name"], resolve(tasks[t]["parameters"], outputs, problem.inputs)) for t in step
        ]
        observations = await _observe(tools, calls)
        for task_id, observation in zip(step, observations, strict=True):
            outputs[task_id] = json.loads(observation)
        lines += [text, _observation_message(observations, parallel=parallel)]
    lines.append(_finish_text(problem, outputs))
    return "\n".join(lines)
