"""Resources and the prompt (DESIGN §7).

Resources, always in the caller's tenant:

- ``planexec://plans/{plan_id}``: the stored plan entry (JSON: plan_id, user,
  created_at, plan, provenance);
- ``planexec://runs/{run_id}``: the run record (JSON; live when the run is in progress
  in this process);
- ``planexec://runs/{run_id}/graph``: the run's plan as a Mermaid flowchart, task
  statuses as classes.

``resources/list`` shows the caller's most recent plans and runs; the templates show
the three forms. A missing item (another tenant's too) is a JSON-RPC ``invalid params``
error whose ``data`` is the same ``{code, message, hint}`` body tools answer with.

The prompt ``plan_and_execute`` tells an agent how to use the tools.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, unquote

from mcp.server import ServerRequestContext
from mcp_types import (
    GetPromptRequestParams,
    GetPromptResult,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    PaginatedRequestParams,
    Prompt,
    PromptArgument,
    PromptMessage,
    ReadResourceRequestParams,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    TextContent,
    TextResourceContents,
)

from planexec.executor import render_mermaid
from planexec.schemas import PlanObject
from planexec.store import NotFound

from ._auth import Principal
from ._mcp_errors import ErrorCode, ServerError, mcp_error
from ._mcp_services import AppState

__all__ = ["get_prompt", "list_prompts", "list_resource_templates", "list_resources", "read_resource"]

_JSON = "application/json"
_MERMAID = "text/vnd.mermaid"
_URI = re.compile(r"^planexec://(?P<kind>plans|runs)/(?P<id>[^/?#]+)(?P<graph>/graph)?$")
_RECENT = 25

_TEMPLATES = [
    ResourceTemplate(
        name="plan",
        uri_template="planexec://plans/{plan_id}",
        description="A stored plan with its provenance.",
        mime_type=_JSON,
    ),
    ResourceTemplate(
        name="run",
        uri_template="planexec://runs/{run_id}",
        description="A run record: status, output, and per task its attempts.",
        mime_type=_JSON,
    ),
    ResourceTemplate(
        name="run_graph",
        uri_template="planexec://runs/{run_id}/graph",
        description="The run's plan as a Mermaid flowchart, with task statuses.",
        mime_type=_MERMAID,
    ),
]


def _tenant_view(ctx: ServerRequestContext[AppState, Any]) -> tuple[AppState, Principal]:
    state = ctx.lifespan_context
    return state, state.services.principal_of(ctx)


async def list_resource_templates(
    ctx: ServerRequestContext[AppState, Any], params: PaginatedRequestParams | None
) -> ListResourceTemplatesResult:
    return ListResourceTemplatesResult(resource_templates=_TEMPLATES)


async def list_resources(
    ctx: ServerRequestContext[AppState, Any], params: PaginatedRequestParams | None
) -> ListResourcesResult:
    try:
        state, principal = _tenant_view(ctx)
        runs = await state.services.store.list_runs(principal.tenant, limit=_RECENT)
        plans = await state.services.store.list_plans(principal.tenant, limit=_RECENT)
    except Exception as error:
        raise mcp_error(error) from None
    resources = [
        Resource(
            name=f"run {run.run_id}",
            uri=f"planexec://runs/{quote(run.run_id, safe='')}",
            description=f"{run.status} run of plan {run.plan_id}",
            mime_type=_JSON,
        )
        for run in runs
    ] + [
        Resource(
            name=f"plan {plan.plan_id}",
            uri=f"planexec://plans/{quote(plan.plan_id, safe='')}",
            description=str(plan.plan.get("goal") or "a stored plan"),
            mime_type=_JSON,
        )
        for plan in plans
    ]
    return ListResourcesResult(resources=resources, ttl_ms=0, cache_scope="private")


async def _run_record(state: AppState, tenant: str, run_id: str) -> dict[str, Any]:
    live = state.runs.get(tenant, run_id)
    if live is not None:
        return live.handle.record().model_dump(mode="json")
    return await state.services.store.get_run(tenant, run_id)


async def _read(state: AppState, tenant: str, uri: str) -> tuple[str, str]:
    match = _URI.match(uri)
    if match is None:
        raise ServerError(
            ErrorCode.NOT_FOUND,
            f"no resource {uri!r}",
            "use planexec://plans/{plan_id}, planexec://runs/{run_id} or planexec://runs/{run_id}/graph",
        )
    item_id = unquote(match["id"])
    store = state.services.store
    if match["kind"] == "plans":
        if match["graph"]:
            raise NotFound("resource", uri)
        entry = await store.get_plan(tenant, item_id)
        return json.dumps(entry.model_dump(mode="json"), indent=2), _JSON
    record = await _run_record(state, tenant, item_id)
    if not match["graph"]:
        return json.dumps(record, indent=2), _JSON
    plan = PlanObject.model_validate((await store.get_plan(tenant, str(record["plan_id"]))).plan)
    return render_mermaid(plan, record), _MERMAID


async def read_resource(
    ctx: ServerRequestContext[AppState, Any], params: ReadResourceRequestParams
) -> ReadResourceResult:
    try:
        state, principal = _tenant_view(ctx)
        text, mime_type = await _read(state, principal.tenant, str(params.uri))
    except Exception as error:
        raise mcp_error(error, uri=str(params.uri)) from None
    return ReadResourceResult(contents=[TextResourceContents(uri=params.uri, text=text, mime_type=mime_type)])


_PROMPT = Prompt(
    name="plan_and_execute",
    title="Plan, validate and execute",
    description="How to reach a goal with planexec: write a plan of tool calls, validate it, run it, "
    "read the run.",
    arguments=[PromptArgument(name="goal", description="What you want done.", required=False)],
)

_GUIDE = """\
You can reach goals with planexec, which runs a *plan*: a DAG of tool calls that executes \
in parallel wherever dependencies allow, with retries, timeouts, error handlers and \
compensations.

1. Look at the tools (tools/list). Every tool other than the planexec meta-tools \
(create_plan, validate_plan, execute_plan, get_run, list_runs, cancel_run, replay_run) \
can be a task of a plan, and can also be called directly.
2. Write the plan as JSON:
   {{"goal": "...", "inputs": {{"x": 2}},
    "tasks": {{
      "sum":    {{"tool_name": "add", "parameters": {{"a": "$<inputs.x>", "b": 3}}, "dependencies": []}},
      "double": {{"tool_name": "multiply", "parameters": {{"a": "$<sum.output.result>", "b": 2}},
                  "dependencies": ["sum"]}}
    }},
    "output": "$<double.output.result>"}}
   Task ids match ^[A-Za-z_][A-Za-z0-9_-]{{0,63}}$. Optional per task: timeout_s, retry \
{{max_attempts, initial_delay_s, backoff, max_delay_s}}, error_handling {{on_error: \
HANDLER_TASK}}, compensation {{tool_name, parameters}}. Plan-wide: on_failure \
("abort" or "continue"), max_concurrency, timeout_s.
3. References: a parameter "$<task.output>" is replaced by that task's output, keeping its \
JSON type; go deeper with .key and [index] ("$<fetch.output.rows[0].id>"); \
"$<inputs.name>" reads a run input; inside a longer string a reference is interpolated. \
A task's output is its tool's structured result (scalars come wrapped as {{"result": ...}}). \
A handler may read "$<failed_task.error>". Write $$< for a literal $<.
4. Call validate_plan {{"plan": ...}}. It reports every problem at once, each with a code, \
a JSON Pointer path and a hint: fix them all and validate again until "valid" is true.
5. Call execute_plan {{"plan": ..., "inputs": {{...}}}}: it answers the run record \
{{run_id, status, output, error, tasks: {{id: {{status, attempts, output, error}}}}}} and \
reports progress per finished task. With "wait": false it answers {{"run_id"}} at once.
6. Read runs with get_run {{"run_id"}} or the resource planexec://runs/{{run_id}} \
(planexec://runs/{{run_id}}/graph draws it); list_runs shows recent runs; cancel_run \
stops one (compensations of finished tasks still run). A failed task's error has a code \
(timeout, tool_error, bad_reference, invalid_arguments, upstream_failed, ...) and a message.
{goal}"""


async def list_prompts(
    ctx: ServerRequestContext[AppState, Any], params: PaginatedRequestParams | None
) -> ListPromptsResult:
    return ListPromptsResult(prompts=[_PROMPT])


async def get_prompt(
    ctx: ServerRequestContext[AppState, Any], params: GetPromptRequestParams
) -> GetPromptResult:
    if params.name != _PROMPT.name:
        raise mcp_error(
            ServerError(ErrorCode.NOT_FOUND, f"no prompt {params.name!r}", f"use {_PROMPT.name!r}")
        )
    goal = (params.arguments or {}).get("goal")
    text = _GUIDE.format(goal=f"\nThe goal: {goal}" if goal else "")
    return GetPromptResult(
        description=_PROMPT.description,
        messages=[PromptMessage(role="user", content=TextContent(type="text", text=text))],
    )
