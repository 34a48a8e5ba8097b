"""The one MCP application object, on the SDK's low-level :class:`~mcp.server.Server`.

:func:`build_server` wires :class:`Services` into a ``Server`` whose lifespan owns the
resources: it opens the store, starts the server-lifetime task group the runs live in,
and on the way out asks every run to stop (cooperatively, ``shutdown_grace_s`` at most,
then hard), then closes the store. Stdio runs that lifespan once per process
(``_mcp_stdio``); streamable HTTP once for the session manager (``_mcp_http``). The same
object serves both protocol eras: older clients ``initialize``, 2026-07-28 clients send
each request on its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.server import Server
from mcp.server.context import ServerMiddleware
from mcp.server.request_state import RequestStateBoundary

from planexec import __version__

from ._mcp_resources import get_prompt, list_prompts, list_resource_templates, list_resources, read_resource
from ._mcp_runs import RunRegistry
from ._mcp_schemas import META_TOOLS
from ._mcp_services import AppState, Services
from ._mcp_tools import call_tool, list_tools, tool_input_schema
from ._planner_config import REQUEST_STATE_AUDIENCE

__all__ = ["ToolNameClash", "build_server"]

INSTRUCTIONS = (
    "planexec runs plans: DAGs of tool calls executed in parallel where dependencies allow. "
    "Write a plan, check it with validate_plan, run it with execute_plan, read it with get_run "
    "or planexec://runs/{run_id}. The prompt plan_and_execute explains the plan format."
)


class ToolNameClash(ValueError):
    """A catalog tool is named like a meta-tool (a configuration error)."""


def build_server(services: Services, *, middleware: Sequence[ServerMiddleware[Any]] = ()) -> Server[AppState]:
    """The planexec MCP server on ``services``; ``middleware`` wraps every request."""
    clash = sorted({spec.name for spec in services.catalog.specs()} & set(META_TOOLS))
    if clash:
        raise ToolNameClash(f"catalog tools named like planexec's meta-tools: {', '.join(clash)}")

    @asynccontextmanager
    async def lifespan(_: Server[AppState]) -> AsyncIterator[AppState]:
        async with services.store, anyio.create_task_group() as task_group:
            runs = RunRegistry(task_group, services.limits.max_runs_per_tenant)
            try:
                yield AppState(services=services, runs=runs)
            finally:
                runs.cancel_all()
                with anyio.move_on_after(services.limits.shutdown_grace_s, shield=True):
                    await runs.wait_all()
                runs.stop_all()
                task_group.cancel_scope.cancel()

    server: Server[AppState] = Server(
        "planexec",
        version=__version__,
        title="planexec",
        description="Plan-then-execute orchestration for LLM agents",
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        get_tool_input_schema=tool_input_schema(services.catalog),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_resource_templates,
        on_read_resource=read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )
    # Seals the request state of multi-round-trip calls (2026-07-28 sampling), outermost.
    server.middleware.append(
        RequestStateBoundary(services.planner.request_state, default_audience=REQUEST_STATE_AUDIENCE)
    )
    server.middleware.extend(middleware)
    return server
