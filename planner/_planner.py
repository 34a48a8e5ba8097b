"""The LLM planner: goal -> validated PlanObject, through a bounded repair loop.

One planning conversation::

    ask (prompt)  -> extract JSON -> validate_plan -> valid: PlanOutcome
        ^                                  | errors (all of them, or invalid_json)
        +--- repair message (errors as JSON, "return the whole corrected plan") <-+

At most ``1 + max_repairs`` LLM calls; after the last, :class:`PlanningFailed` carries
the last round's errors. :class:`LLMError` (no answer at all) propagates unchanged: the
caller decides whether to retry or how to report it.

The planner, not the model, owns a plan's identity and inputs: ``plan_id`` is always
freshly assigned (a model copying an example's id would collide), ``inputs`` given by
the caller replace the model's values of the same name, and an empty ``goal`` becomes the
caller's goal.

Error tree::

    PlanningFailed   code "planning_failed": no valid plan within the rounds
    LLMError         the model could not be asked (see planner._llm)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from planexec.registry import ToolSpec, ToolView
from planexec.schemas import (
    ErrorCode,
    PlanObject,
    Problem,
    RefKind,
    Template,
    iter_refs,
    json_pointer,
    plan_json_schema,
)

from ._extract import JSONExtractionError, extract_json
from ._limits import Limits
from ._llm import LLM, Completion, Message
from ._prompt import COMPLETED_INPUT, Prompt, completed_outputs, plan_prompt, repair_message, replan_prompt
from ._validate import validate_plan

__all__ = ["PlanOutcome", "Planner", "PlanningFailed", "PlanningRound"]


@dataclass(frozen=True, slots=True)
class PlanningRound:
    """One LLM call of a planning conversation: whether its answer held a JSON object,
    whether that was a valid plan, the error codes sent back, and what the call cost."""

    parsed: bool
    valid: bool
    error_codes: tuple[str, ...]
    prompt_tokens: int
    completion_tokens: int
    latency_s: float

    def as_json(self) -> dict[str, Any]:
        return {
            "parsed": self.parsed,
            "valid": self.valid,
            "error_codes": list(self.error_codes),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latency_s": self.latency_s,
        }


@dataclass(frozen=True)
class PlanOutcome:
    """A valid plan and how it was made.

    ``rounds`` is the number of LLM calls (1: valid at once); token counts add up all
    rounds; ``latency_s`` is the wall time of the whole conversation, validation included.
    """

    plan: PlanObject
    warnings: list[Problem]
    model: str
    rounds: int
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    prompt_version: str
    prompt_hash: str
    trimmed_tools: int
    replan_of: str | None = None
    history: tuple[PlanningRound, ...] = ()
    """Every round, in order (the last one is the valid answer)."""

    def planner_info(self) -> dict[str, Any]:
        """The ``planner`` member of a ``create_plan`` answer."""
        return _planner_info(self)

    def provenance(self) -> dict[str, Any]:
        """What the store keeps with the plan (``PlanEntry.provenance``)."""
        info = self.planner_info()
        provenance: dict[str, Any] = {
            "planner_model": info.pop("model"),
            **info,
            "prompt_version": self.prompt_version,
            "prompt_hash": self.prompt_hash,
            "trimmed_tools": self.trimmed_tools,
        }
        if self.replan_of is not None:
            provenance["replan_of"] = self.replan_of
        return provenance


class PlanningFailed(Exception):
    """No valid plan within ``1 + max_repairs`` rounds; ``errors`` are the last round's."""

    code = "planning_failed"

    def __init__(
        self,
        errors: Sequence[Problem],
        *,
        rounds: int,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        latency_s: float,
        history: Sequence[PlanningRound] = (),
    ) -> None:
        self.errors = list(errors)
        self.history = tuple(history)
        self.rounds = rounds
        self.model = model
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.latency_s = latency_s
        codes = ", ".join(sorted({str(p.code) for p in self.errors}))
        self.message = (
            f"the planner found no valid plan in {rounds} round(s); the last answer had "
            f"{len(self.errors)} problem(s): {codes}"
        )
        super().__init__(self.message)

    def planner_info(self) -> dict[str, Any]:
        return _planner_info(self)

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "errors": [p.as_json() for p in self.errors],
            "planner": self.planner_info(),
        }


def _planner_info(source: PlanOutcome | PlanningFailed) -> dict[str, Any]:
    """What the planner spent: its model, rounds, tokens and time."""
    return {
        "model": source.model,
        "rounds": source.rounds,
        "prompt_tokens": source.prompt_tokens,
        "completion_tokens": source.completion_tokens,
        "latency_s": source.latency_s,
    }


@dataclass
class _Tally:
    """The rounds of one conversation; counts are the history's."""

    model: str
    started: float = field(default_factory=time.perf_counter)
    history: list[PlanningRound] = field(default_factory=list)

    @property
    def rounds(self) -> int:
        return len(self.history)

    @property
    def prompt_tokens(self) -> int:
        return sum(r.prompt_tokens for r in self.history)

    @property
    def completion_tokens(self) -> int:
        return sum(r.completion_tokens for r in self.history)

    def record(self, completion: Completion, *, parsed: bool, errors: Sequence[Problem]) -> None:
        self.history.append(
            PlanningRound(
                parsed=parsed,
                valid=not errors,
                error_codes=tuple(dict.fromkeys(str(p.code) for p in errors)),
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
                latency_s=completion.latency_s,
            )
        )

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def _response_format() -> dict[str, Any]:
    """The OpenAI-style structured-output request for a PlanObject. ``$schema``/``$id``
    are left out (providers' schema subsets reject them); not ``strict``: strict mode
    would require every optional field."""
    schema = {k: v for k, v in plan_json_schema().items() if k not in ("$schema", "$id")}
    return {"type": "json_schema", "json_schema": {"name": "PlanObject", "schema": schema, "strict": False}}


class Planner:
    """Plans goals with an :class:`LLM` against the caller's tools.

    ``max_repairs``: repair rounds after the first answer; ``context_budget_tokens``: the
    prompt size above which the tool catalog is trimmed; ``limits``: validation limits;
    ``max_tokens``: the answer's token limit, per call (None: the provider's default).
    """

    def __init__(
        self,
        llm: LLM,
        *,
        max_repairs: int = 2,
        context_budget_tokens: int = 12_000,
        limits: Limits | None = None,
        max_tokens: int | None = 4096,
    ) -> None:
        if max_repairs < 0:
            raise ValueError("max_repairs must be 0 or more")
        self.llm = llm
        self.max_repairs = max_repairs
        self.context_budget_tokens = context_budget_tokens
        self.limits = limits or Limits()
        self.max_tokens = max_tokens

    async def create_plan(
        self,
        goal: str,
        tools: ToolView,
        *,
        context: str | dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> PlanOutcome:
        """A validated plan for ``goal``; raises :class:`PlanningFailed` or :class:`LLMError`.

        ``inputs`` become the plan's ``inputs``; the model sees their names and values
        (truncated) and references them as ``$<inputs.NAME>``.
        """
        given = dict(inputs or {})
        prompt = plan_prompt(
            goal, _visible(tools), context=context, inputs=given, budget_tokens=self.context_budget_tokens
        )
        return await self._converse(prompt, tools, goal=goal, inputs=given)

    async def replan(
        self,
        plan: PlanObject,
        record: dict[str, Any],
        tools: ToolView,
        *,
        goal: str | None = None,
    ) -> PlanOutcome:
        """A revised plan for what the run ``record`` of ``plan`` left unfinished.

        Outputs of completed tasks (succeeded or recovered) are handed over as the plan
        input ``completed`` (``$<inputs.completed.TASK_ID...>``), next to ``plan``'s own
        inputs; the failed tasks' errors are shown to the model. Same repair loop as
        :meth:`create_plan`; the outcome's provenance names the run (``replan_of``).
        """
        goal = goal or plan.goal
        inputs = {**plan.inputs, COMPLETED_INPUT: completed_outputs(plan, record)}
        prompt = replan_prompt(goal, plan, record, _visible(tools), budget_tokens=self.context_budget_tokens)
        run_id = record.get("run_id")
        return await self._converse(
            prompt,
            tools,
            goal=goal,
            inputs=inputs,
            replan_of=str(run_id) if run_id is not None else None,
            completed=inputs[COMPLETED_INPUT],
        )

    async def _converse(
        self,
        prompt: Prompt,
        tools: ToolView,
        *,
        goal: str,
        inputs: Mapping[str, Any],
        replan_of: str | None = None,
        completed: Mapping[str, Any] | None = None,
    ) -> PlanOutcome:
        messages: list[Message] = list(prompt.messages)
        tally = _Tally(model=self.llm.model)
        response_format = _response_format()
        while True:
            completion = await self.llm.complete(
                messages, response_format=response_format, max_tokens=self.max_tokens
            )
            tally.model = completion.model or tally.model
            try:
                document = extract_json(completion.text)
            except JSONExtractionError as error:
                errors = [error.problem]
                tally.record(completion, parsed=False, errors=errors)
            else:
                result = validate_plan(_owned(document, goal, inputs), tools, self.limits)
                errors = result.errors
                if result.plan is not None and completed is not None:
                    errors = _completed_reference_errors(result.plan, completed)
                tally.record(completion, parsed=True, errors=errors)
                if not errors and result.plan is not None:
                    return PlanOutcome(
                        plan=result.plan,
                        warnings=result.warnings,
                        model=tally.model,
                        rounds=tally.rounds,
                        prompt_tokens=tally.prompt_tokens,
                        completion_tokens=tally.completion_tokens,
                        latency_s=tally.elapsed,
                        prompt_version=prompt.version,
                        prompt_hash=prompt.hash,
                        trimmed_tools=prompt.trimmed_tools,
                        replan_of=replan_of,
                        history=tuple(tally.history),
                    )
            if tally.rounds > self.max_repairs:
                raise PlanningFailed(
                    errors,
                    rounds=tally.rounds,
                    model=tally.model,
                    prompt_tokens=tally.prompt_tokens,
                    completion_tokens=tally.completion_tokens,
                    latency_s=tally.elapsed,
                    history=tally.history,
                )
            messages += [{"role": "assistant", "content": completion.text}, repair_message(errors)]


def _completed_reference_errors(plan: PlanObject, completed: Mapping[str, Any]) -> list[Problem]:
    """``$<inputs.completed.ID...>`` naming a task that did not complete: validation
    cannot know (inputs may come at run time), but a replan's completed outputs are
    fixed, so the run would fail on it with ``bad_reference``."""
    places: list[tuple[tuple[str | int, ...], Any]] = [(("output",), plan.output)]
    for task_id, task in plan.tasks.items():
        places.append((("tasks", task_id, "parameters"), task.parameters))
        if task.compensation is not None:
            places.append((("tasks", task_id, "compensation", "parameters"), task.compensation.parameters))
    problems = []
    for prefix, value in places:
        for location, template in iter_refs(value):
            if not isinstance(template, Template):
                continue
            for ref in template.refs:
                named = ref.path[1] if ref.kind is RefKind.INPUTS and len(ref.path) > 1 else None
                if ref.path[:1] != (COMPLETED_INPUT,) or named is None or named in completed:
                    continue
                problems.append(
                    Problem(
                        code=ErrorCode.INVALID_REFERENCE,
                        path=json_pointer(*prefix, *location),
                        message=f"{ref} names {named!r}, which is not a completed task of the failed run",
                        hint="reference one of the completed tasks ("
                        + (", ".join(sorted(completed)) or "none completed")
                        + "), or plan that work again",
                        detail={"reference": str(ref), "completed": sorted(completed)},
                    )
                )
    return problems


def _visible(tools: ToolView) -> list[ToolSpec]:
    return [spec for spec in tools.specs() if tools.is_permitted(spec.name)]


def _owned(document: dict[str, Any], goal: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """``document`` with what the planner owns set: a fresh ``plan_id``, the caller's
    ``inputs`` over the model's, the goal when the model left it empty."""
    document = dict(document)
    document["plan_id"] = str(uuid.uuid4())
    if not document.get("goal"):
        document["goal"] = goal
    if inputs:
        written = document.get("inputs")
        document["inputs"] = {**(written if isinstance(written, dict) else {}), **inputs}
    return document
