"""tools/list and tools/call: the meta-tools and the session's own tools.

``tools/list`` shows the meta-tools (``_mcp_schemas``) and then every tool of the
catalog, which a client may call directly (the reactive mode). ``tools/call`` checks a
meta-tool's arguments against its model and runs its handler; a catalog tool's call goes
to the catalog and its result passes through as it is. Whatever fails becomes an
``is_error`` result with the body ``{code, message, hint}`` (:func:`error_result`): a
tool failure is never a JSON-RPC error, and neither is an unknown tool name (as the SDK's
own MCPServer answers).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import nullcontext
from typing import Any

import anyio
from mcp.server import ServerRequestContext
from mcp_types import (
    CallToolRequestParams,
    CallToolResult,
    ContentBlock,
    InputRequiredResult,
    ListToolsResult,
    PaginatedRequestParams,
    SubscriptionsListenRequestParams,
    SubscriptionsListenResult,
    Tool,
    ToolAnnotations,
)
from pydantic import TypeAdapter

from planexec.executor import replay_run
from planexec.registry import Catalog, ToolCallError, ToolErrorCode, ToolSpec

from ._mcp_errors import ErrorCode, ServerError, error_result
from ._mcp_planning import create_plan as plan_goal
from ._mcp_plans import save_plan
from ._mcp_run_tools import Call, cancel_run, check_plan, execute_plan, get_run, list_runs, ok
from ._mcp_schemas import META_TOOLS, CreatePlanArgs, ReplayRunArgs, ValidatePlanArgs, admits_errors
from ._mcp_services import AppState
from ._mcp_session_tools import connect_server, disconnect_server, register_tool

__all__ = ["call_tool", "catalog_tool", "list_tools", "tool_input_schema"]

_CONTENT = TypeAdapter(list[ContentBlock])
_IDEMPOTENCY_KEY = "planexec/idempotency_key"


async def validate(call: Call, args: ValidatePlanArgs) -> CallToolResult:
    """Validate; a valid plan is stored with its tools pinned, so executing it later
    (``plan_id``, or the same plan again) refuses it if a tool changed meanwhile."""
    services, tools = call.state.services, await call.tools()
    result = await check_plan(services, tools, args.plan)
    if result.valid and result.plan is not None:
        await save_plan(call, result.plan, tools, {"source": "validate_plan"})
        summary = f"valid plan {result.plan.plan_id}: {len(result.plan.tasks)} task(s)"
    else:
        listed = ", ".join(f"{p.code} at {p.path or '/'}" for p in result.errors[:5])
        summary = f"invalid plan, {len(result.errors)} error(s): {listed}"
    if result.warnings:
        summary += f"; {len(result.warnings)} warning(s)"
    return ok(result.as_json(), summary)


async def create_plan(call: Call, args: CreatePlanArgs) -> CallToolResult | InputRequiredResult:
    return await plan_goal(call, args)


async def replay(call: Call, args: ReplayRunArgs) -> CallToolResult:
    services, principal = call.state.services, call.principal
    result = await replay_run(
        services.store,
        principal.tenant,
        args.run_id,
        tools=await call.tools(),
        live=args.live,
        from_task=args.from_task,
        user=principal.user,
    )
    verdict = "identical" if result.identical else f"diverges at {(result.divergence or {}).get('task_id')}"
    return ok(result.as_json(), f"replay {result.run_id} of run {args.run_id}: {result.status}, {verdict}")


_HANDLERS: dict[str, Callable[[Call, Any], Awaitable[CallToolResult | InputRequiredResult]]] = {
    "create_plan": create_plan,
    "validate_plan": validate,
    "execute_plan": execute_plan,
    "get_run": get_run,
    "list_runs": list_runs,
    "cancel_run": cancel_run,
    "replay_run": replay,
    "connect_server": connect_server,
    "disconnect_server": disconnect_server,
    "register_tool": register_tool,
}
assert set(_HANDLERS) == set(META_TOOLS)


def catalog_tool(spec: ToolSpec) -> Tool:
    """A catalog tool as tools/list shows it."""
    hints = spec.annotations
    return Tool(
        name=spec.name,
        description=spec.description or None,
        input_schema=spec.input_schema,
        output_schema=admits_errors(spec.output_schema) if spec.output_schema is not None else None,
        annotations=ToolAnnotations(
            read_only_hint=hints.read_only,
            destructive_hint=hints.destructive,
            idempotent_hint=hints.idempotent,
            open_world_hint=hints.open_world,
        ),
    )


async def list_tools(
    ctx: ServerRequestContext[AppState, Any], params: PaginatedRequestParams | None
) -> ListToolsResult:
    state = ctx.lifespan_context
    call = Call(ctx=ctx, state=state, principal=state.services.principal_of(ctx))
    view = await call.tools()
    tools = [tool for tool, _ in META_TOOLS.values()] + [catalog_tool(spec) for spec in view.specs()]
    # Per caller (tenant policy) and per session (its overlay): never cached.
    return ListToolsResult(tools=tools, ttl_ms=0, cache_scope="private")


async def listen(
    ctx: ServerRequestContext[AppState, Any], params: SubscriptionsListenRequestParams
) -> SubscriptionsListenResult:
    """``subscriptions/listen`` (2026-07-28): a stream of the caller's session's changes
    only (its own bus: another session's changes never reach it)."""
    state = ctx.lifespan_context
    call = Call(ctx=ctx, state=state, principal=state.services.principal_of(ctx))
    live = await call.live_session()
    return await live.listen(ctx, params)


def tool_input_schema(catalog: Catalog) -> Callable[[str], Mapping[str, Any] | None]:
    """The input schema by tool name, for the SDK's ``Mcp-Param-*`` header checks."""

    def lookup(name: str) -> Mapping[str, Any] | None:
        meta = META_TOOLS.get(name)
        if meta is not None:
            return meta[0].input_schema
        spec = catalog.get(name)
        return spec.input_schema if spec is not None else None

    return lookup


def _planexec_meta(call: Call) -> dict[str, Any]:
    """The request's ``planexec/*`` _meta (a planexec upstream of another planexec gets the
    run id, task id, attempt and idempotency key the downstream executor sent). The
    idempotency key is qualified by the caller's tenant: a key is the caller's to choose,
    so two tenants (or a forger) can never name the same one to a deduplicating tool."""
    meta: Mapping[str, Any] = call.ctx.meta or {}
    forwarded = {key: value for key, value in meta.items() if key.startswith("planexec/")}
    key = forwarded.get(_IDEMPOTENCY_KEY)
    if key is not None:
        forwarded[_IDEMPOTENCY_KEY] = f"{call.principal.tenant}/{key}"
    return forwarded


async def _call_catalog_tool(call: Call, spec: ToolSpec, arguments: dict[str, Any]) -> CallToolResult:
    timeout = anyio.fail_after(spec.timeout_s) if spec.timeout_s is not None else nullcontext()
    try:
        with timeout:
            result = await (await call.tools()).call(spec.name, arguments, _planexec_meta(call))
    except TimeoutError:
        raise ToolCallError(
            ToolErrorCode.TIMEOUT, f"{spec.name} did not answer within {spec.timeout_s} s", retryable=True
        ) from None
    if result.is_error:  # in the server's error shape, like every other failure
        raise ToolCallError(
            ToolErrorCode.TOOL_ERROR,
            result.error_message(),
            retryable=result.retryable,
            detail={"tool": spec.name},
        )
    return CallToolResult(
        content=_CONTENT.validate_python(result.content),
        structured_content=result.structured_content,
    )


async def call_tool(
    ctx: ServerRequestContext[AppState, Any], params: CallToolRequestParams
) -> CallToolResult | InputRequiredResult:
    """Run one tools/call; every failure is an ``is_error`` result. ``create_plan`` may
    answer ``InputRequiredResult`` first (2026-07-28 sampling, ``_mcp_planning``)."""
    try:
        state = ctx.lifespan_context
        call = Call(ctx=ctx, state=state, principal=state.services.principal_of(ctx))
        arguments = params.arguments or {}
        meta = META_TOOLS.get(params.name)
        if meta is not None:
            args = meta[1].model_validate(arguments)
            call.session = args.session
            return await _HANDLERS[params.name](call, args)
        spec = (await call.tools()).get(params.name)
        if spec is not None:  # the view refuses a tool the caller's policy denies
            return await _call_catalog_tool(call, spec, arguments)
        raise ServerError(
            ErrorCode.UNKNOWN_TOOL, f"unknown tool {params.name!r}", "call a tool tools/list shows"
        )
    except Exception as error:
        return error_result(error)
