"""The one MCP application object, on the SDK's low-level :class:`~mcp.server.Server`,
and the stdio transport.

:func:`build_server` wires :class:`Services` into a ``Server`` whose lifespan owns the
resources: it opens the store, starts the server-lifetime task group the runs live in,
and on the way out asks every run to stop (cooperatively, ``shutdown_grace_s`` at most,
then hard), then closes the store. Stdio runs that lifespan once per process; streamable
HTTP once for the session manager (``_mcp_http``). The same object serves both protocol
eras: older clients ``initialize``, 2026-07-28 clients send each request on its own.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.server import Server, ServerRequestContext
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware
from mcp.server.stdio import stdio_server

from planexec import __version__

from ._mcp_errors import RequestTooLarge, mcp_error
from ._mcp_resources import get_prompt, list_prompts, list_resource_templates, list_resources, read_resource
from ._mcp_runs import RunRegistry
from ._mcp_schemas import META_TOOLS
from ._mcp_services import AppState, Services
from ._mcp_tools import call_tool, list_tools, tool_input_schema

__all__ = ["RequestSizeLimit", "ToolNameClash", "build_server", "serve_stdio"]

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
    server.middleware.extend(middleware)
    return server


class RequestSizeLimit:
    """Refuses a request whose params are over ``max_bytes`` of JSON with a JSON-RPC
    ``invalid request`` error (data: ``{code: request_too_large, ...}``). For transports
    without a body limit of their own (stdio); HTTP answers 413 before parsing."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.params:
            size = len(json.dumps(ctx.params, separators=(",", ":"), ensure_ascii=False).encode())
            if size > self.max_bytes:
                raise mcp_error(RequestTooLarge(size, self.max_bytes))
        return await call_next(ctx)


async def serve_stdio(services: Services) -> None:
    """Serve MCP on stdin/stdout until the client closes stdin."""
    server = build_server(services, middleware=[RequestSizeLimit(services.limits.max_request_bytes)])
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
