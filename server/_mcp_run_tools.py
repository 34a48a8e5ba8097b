"""The meta-tools that run plans and read runs: execute_plan, get_run, list_runs,
cancel_run, replay_run.

Each takes the request's :class:`Call` and its validated arguments and returns a
successful ``CallToolResult`` or raises; the dispatcher (``_mcp_tools``) turns what it
raises into an ``is_error`` result. Every store call is scoped by the caller's tenant,
so another tenant's plan or run is ``not_found``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server import ServerRequestContext
from mcp_types import CallToolResult, TextContent

from planexec.executor import EventType, Executor, RunRecord, RunStatus, StoreSink
from planexec.planner import ValidationResult, validate_plan
from planexec.registry import LayeredView, ToolView
from planexec.schemas import PlanObject
from planexec.store import NotFound, PlanEntry

from ._auth import Principal
from ._mcp_errors import InvalidPlan, RunNotRunning
from ._mcp_planning import replan_failed_run
from ._mcp_plans import check_pinned, save_plan
from ._mcp_runs import LiveRun
from ._mcp_schemas import CancelRunArgs, ExecutePlanArgs, GetRunArgs, ListRunsArgs
from ._mcp_services import AppState, Services
from ._sessions import LiveSession

__all__ = ["Call", "cancel_run", "check_plan", "execute_plan", "get_run", "list_runs", "ok"]

_INLINE_TASKS = 200
_INLINE_TEXT = 64 * 1024

# The first of these events a task emits is the one that finishes it (a failed task may
# later be recovered by its handler; it was counted when it failed).
_FINISHED = {
    EventType.TASK_SUCCEEDED: "succeeded",
    EventType.TASK_FAILED: "failed",
    EventType.TASK_RECOVERED: "recovered",
    EventType.TASK_SKIPPED: "skipped",
    EventType.TASK_CANCELLED: "cancelled",
}


@dataclass(slots=True)
class Call:
    """One tools/call: the request, the server's state, who is calling and the session
    it names (``session`` argument; headers and the default otherwise, see ``_sessions``)."""

    ctx: ServerRequestContext[AppState, Any]
    state: AppState
    principal: Principal
    session: str | None = None
    _live: LiveSession | None = field(default=None, repr=False)
    _view: LayeredView | None = field(default=None, repr=False)

    async def live_session(self) -> LiveSession:
        """The caller's session (opened once per call; an older-era connection using it
        is remembered, to be told when its tools change)."""
        if self._live is None:
            sessions = self.state.sessions
            self._live = await sessions.open(sessions.key_of(self.ctx, self.principal, self.session))
            sessions.attach(self.ctx, self._live)
        return self._live

    async def tools(self) -> LayeredView:
        """The tools this caller sees (the server's catalog, its tenant's policy, its
        session's overlay): what validation, execution and planning of this call go through."""
        if self._view is None:
            self._view = self.state.sessions.view(await self.live_session(), self.principal)
        return self._view


def ok(data: dict[str, Any], summary: str) -> CallToolResult:
    """A successful result: ``data`` as structured content, ``summary`` as text."""
    return CallToolResult(content=[TextContent(type="text", text=summary)], structured_content=data)


async def check_plan(services: Services, tools: ToolView, document: Any) -> ValidationResult:
    """Validate a plan against the caller's ``tools``. A large plan is checked in a worker thread
    (validation is CPU work: ~0.5 s at the 1 MiB limit), so the server keeps serving;
    a small one inline, as a thread hop costs more than the check."""
    large = (
        len(document) > _INLINE_TEXT
        if isinstance(document, str)
        else isinstance(document, dict) and len(document.get("tasks") or ()) > _INLINE_TASKS
    )
    if large:
        return await anyio.to_thread.run_sync(validate_plan, document, tools, services.plan_limits)
    return validate_plan(document, tools, services.plan_limits)


async def _plan_to_run(call: Call, args: ExecutePlanArgs) -> PlanObject:
    """The validated plan: a stored one (``plan_id``), or the one given — stored now,
    unless the same plan was stored before under its ``plan_id`` (by validate_plan or
    create_plan). A stored plan is refused when its tools changed since it was stored."""
    services, principal = call.state.services, call.principal
    tools = await call.tools()
    document: Any = args.plan
    stored: PlanEntry | None = None
    if args.plan_id is not None:
        stored = await services.store.get_plan(principal.tenant, args.plan_id)
        document = stored.plan
    result = await check_plan(services, tools, document)
    if not result.valid or result.plan is None:
        raise InvalidPlan(result)
    plan = result.plan
    if stored is None and isinstance(args.plan, dict) and "plan_id" in args.plan:
        try:
            stored = await services.store.get_plan(principal.tenant, plan.plan_id)
        except NotFound:
            stored = None
        if stored is not None and stored.plan != plan.to_json():
            stored = None  # another plan under that id: this one is stored in its place
    if stored is not None:
        check_pinned(plan.plan_id, stored.provenance.get("tool_fingerprints"), tools)
    else:
        await save_plan(call, plan, tools, {"source": "mcp"})
    return plan


async def _report_progress(ctx: ServerRequestContext[AppState, Any], live: LiveRun) -> None:
    """One progress notification per finished task: ``progress`` counts the tasks
    finished so far, ``total`` is the plan's task count."""
    finished: set[str] = set()
    async for event in live.handle.events():
        status = _FINISHED.get(event.type)
        if status is None or event.task_id is None or event.task_id in finished:
            continue
        finished.add(event.task_id)
        await ctx.session.report_progress(len(finished), live.task_count, f"task {event.task_id} {status}")


async def _start(
    call: Call, plan: PlanObject, inputs: dict[str, Any] | None, extra: Mapping[str, Any] | None = None
) -> LiveRun:
    """Start a run of ``plan`` (``extra``: fields stored with its record)."""
    services, principal = call.state.services, call.principal
    executor = Executor(
        await call.tools(),
        StoreSink(services.store, principal.tenant, principal.user, extra=extra),
        limits=services.executor_limits,
        clock=services.clock,
    )
    return await call.state.runs.start(principal.tenant, executor, plan, inputs, str(uuid.uuid4()))


async def _finish(call: Call, live: LiveRun) -> RunRecord:
    """Wait for the run to end, reporting progress; cancelling this request cancels it."""
    try:
        async with anyio.create_task_group() as reporting:
            reporting.start_soon(_report_progress, call.ctx, live)
            await live.done.wait()
            if live.failure is not None:  # the run may have died with its event log open
                reporting.cancel_scope.cancel()
        return await live.wait()
    finally:
        if not live.done.is_set():  # this request was cancelled: so is its run
            live.handle.cancel()


async def execute_plan(call: Call, args: ExecutePlanArgs) -> CallToolResult:
    plan = await _plan_to_run(call, args)
    live = await _start(call, plan, args.inputs)
    if not args.wait:
        return ok({"run_id": live.run_id}, f"run {live.run_id} started; follow it with get_run")
    record = await _finish(call, live)
    if args.replan_on_failure and record.status is RunStatus.FAILED:

        async def run(revised: PlanObject, extra: Mapping[str, Any]) -> RunRecord:
            return await _finish(call, await _start(call, revised, None, extra))

        as_run = plan.model_copy(update={"inputs": {**plan.inputs, **(args.inputs or {})}})
        data = await replan_failed_run(call, as_run, record, args.replan_on_failure, run)
        summary = f"run {data['run_id']} {data['status']} after {len(data['replans'])} replan(s)"
        return ok(data, summary)
    data = record.model_dump(mode="json")
    return ok(data, f"run {record.run_id} {record.status.value} ({len(plan.tasks)} tasks)")


async def _record(call: Call, run_id: str) -> dict[str, Any]:
    """The run as it stands: live from this process when it runs here, else stored."""
    live = call.state.runs.get(call.principal.tenant, run_id)
    if live is not None:
        return live.handle.record().model_dump(mode="json")
    return await call.state.services.store.get_run(call.principal.tenant, run_id)


async def get_run(call: Call, args: GetRunArgs) -> CallToolResult:
    record = await _record(call, args.run_id)
    return ok(record, f"run {args.run_id} {record.get('status')}")


async def list_runs(call: Call, args: ListRunsArgs) -> CallToolResult:
    status = args.status.value if args.status is not None else None
    runs = await call.state.services.store.list_runs(call.principal.tenant, status=status, limit=args.limit)
    data = {"runs": [run.model_dump(mode="json") for run in runs]}
    return ok(data, f"{len(runs)} run(s)" + (f" with status {status}" if status else ""))


async def cancel_run(call: Call, args: CancelRunArgs) -> CallToolResult:
    """Cancel a run of this tenant in progress here; answer its record once it ended, or
    as it stands after ``cancel_wait_s`` (compensations can take longer)."""
    live = call.state.runs.get(call.principal.tenant, args.run_id)
    if live is None:
        stored = await call.state.services.store.get_run(call.principal.tenant, args.run_id)
        raise RunNotRunning(args.run_id, str(stored.get("status")))
    live.handle.cancel()
    with anyio.move_on_after(call.state.services.limits.cancel_wait_s):
        await live.done.wait()
    record = live.handle.record().model_dump(mode="json")
    return ok(record, f"run {args.run_id} {record['status']}")
