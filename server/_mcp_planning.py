"""``create_plan`` and hybrid replanning (``execute_plan replan_on_failure=N``).

``create_plan {goal, context?, inputs?}`` asks the planner (``planexec.planner``) with the
LLM this call can use (:func:`planning_llm`: the configured model, else the client's own
LLM through sampling, else ``planner_not_configured``) and the caller's tools
(``Call.tools()``), stores the validated plan with its provenance
(``{"source": "planner", model, rounds, tokens, latency, prompt version and hash,
user}``) and answers ``{plan, plan_id, warnings, planner: {model, rounds,
prompt_tokens, completion_tokens, latency_s}}``. A plan still invalid after the repair
rounds is ``planning_failed`` with the last errors; an LLM failure keeps its code
(``llm_unavailable``, ``llm_auth``, ...). With a 2026-07-28 client that samples, the call
may first answer ``InputRequiredResult`` (one round per LLM answer; see
``_mcp_sampling``).

Replanning: when a run ends ``failed`` and the call asked for ``replan_on_failure: N``,
:func:`replan_failed_run` asks the planner for a revised plan for what is unfinished,
given the failed run's record (the planner carries the completed outputs into the
revised plan's ``inputs.completed``), stores it (provenance ``replan_of``: the failed
run), runs it as a new run linked by ``replan_of`` in its stored record, and repeats at
most N times while runs keep failing. Replanning needs an LLM that can be asked in the
middle of a call: a configured model, or sampling over a handshake-era back channel (a
2026-07-28 client cannot be asked mid-``execute_plan``). When there is none, or the
planner fails, the answer is the last run as it ended with ``replan_error`` saying why.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mcp_types import CallToolRequestParams, CallToolResult, InputRequiredResult, TextContent

from planexec.executor import RunRecord, RunStatus
from planexec.planner import LLM, LLMError, PlanningFailed, PlanOutcome
from planexec.schemas import PlanObject

from ._mcp_errors import PlannerNotConfigured, error_body
from ._mcp_plans import save_plan
from ._mcp_sampling import BackChannelSampling, RoundTripSampling, SamplingNeeded, sampling_llm
from ._mcp_schemas import CreatePlanArgs

if TYPE_CHECKING:
    from ._mcp_run_tools import Call

__all__ = ["RunPlan", "create_plan", "planning_llm", "replan_failed_run"]

RunPlan = Callable[[PlanObject, Mapping[str, Any]], Awaitable[RunRecord]]
"""Runs a plan to its end (as ``execute_plan`` runs one, progress included), storing
the given extra fields with its record; answers the final record."""


def planning_llm(call: Call, *, mid_call: bool = False) -> LLM:
    """The LLM this call plans with: the configured model, else the client's through
    sampling. ``mid_call``: only an LLM that can be asked without ending the call (so
    not 2026-07-28 sampling, which answers ``InputRequiredResult``). Neither:
    :class:`PlannerNotConfigured`."""
    config = call.state.services.planner
    if config.llm is not None:
        return config.llm
    params = CallToolRequestParams.model_validate(call.ctx.params or {})
    sampling = sampling_llm(
        call.ctx,
        input_responses=params.input_responses,
        request_state=params.request_state,
        max_tokens=config.max_tokens,
    )
    if sampling is None or (mid_call and not isinstance(sampling, BackChannelSampling)):
        raise PlannerNotConfigured()
    return sampling


async def _store(call: Call, outcome: PlanOutcome) -> PlanObject:
    """Store the outcome's plan (the planner gave it a fresh id) with its provenance and
    its tools pinned."""
    await save_plan(call, outcome.plan, await call.tools(), {"source": "planner", **outcome.provenance()})
    return outcome.plan


async def create_plan(call: Call, args: CreatePlanArgs) -> CallToolResult | InputRequiredResult:
    """Plan ``args.goal`` with the caller's tools; see the module docstring."""
    services = call.state.services
    llm = planning_llm(call)
    planner = services.planner.planner(llm, services.plan_limits)
    try:
        outcome = await planner.create_plan(
            args.goal, await call.tools(), context=args.context, inputs=args.inputs
        )
    except SamplingNeeded as needed:
        return needed.result
    if isinstance(llm, RoundTripSampling):  # this round replayed the answers of earlier ones
        outcome = replace(outcome, latency_s=outcome.latency_s + llm.answers_latency_s)
    plan = await _store(call, outcome)
    data = {
        "plan": plan.to_json(),
        "plan_id": plan.plan_id,
        "warnings": [problem.as_json() for problem in outcome.warnings],
        "planner": outcome.planner_info(),
    }
    summary = (
        f"plan {plan.plan_id}: {len(plan.tasks)} task(s), {outcome.rounds} round(s) with {outcome.model}; "
        f"run it with execute_plan(plan_id={plan.plan_id!r})"
    )
    return CallToolResult(content=[TextContent(type="text", text=summary)], structured_content=data)


async def replan_failed_run(
    call: Call, plan: PlanObject, record: RunRecord, rounds: int, run: RunPlan
) -> dict[str, Any]:
    """Replan and rerun after the failed run ``record`` of ``plan`` (its inputs as the
    run had them), at most ``rounds`` times; the last run's record (JSON) with
    ``replans: [{round, from_run_id, plan_id, run_id, status, planner}]`` and, when a
    round could not be planned, ``replan_error``."""
    try:
        llm = planning_llm(call, mid_call=True)
    except PlannerNotConfigured as error:
        return _replanned(record, [], error_body(error))
    planner = call.state.services.planner.planner(llm, call.state.services.plan_limits)
    replans: list[dict[str, Any]] = []
    current_plan, current = plan, record
    for number in range(1, rounds + 1):
        try:
            outcome = await planner.replan(
                current_plan, current.model_dump(mode="json"), await call.tools(), goal=plan.goal or None
            )
        except (PlanningFailed, LLMError) as error:
            return _replanned(current, replans, error_body(error))
        revised = await _store(call, outcome)
        following = await run(revised, {"replan_of": current.run_id})
        replans.append(
            {
                "round": number,
                "from_run_id": current.run_id,
                "plan_id": revised.plan_id,
                "run_id": following.run_id,
                "status": following.status.value,
                "planner": outcome.planner_info(),
            }
        )
        current_plan, current = revised, following
        if following.status is not RunStatus.FAILED:
            break
    return _replanned(current, replans, None)


def _replanned(
    last: RunRecord, replans: list[dict[str, Any]], failure: dict[str, Any] | None
) -> dict[str, Any]:
    data = last.model_dump(mode="json")
    if replans:
        data["replan_of"] = replans[-1]["from_run_id"]
    data["replans"] = replans
    if failure is not None:
        data["replan_error"] = failure
    return data
