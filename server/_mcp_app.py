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
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
from mcp.server import NotificationOptions, Server
from mcp.server.context import ServerMiddleware
from mcp.server.models import InitializationOptions
from mcp.server.request_state import RequestStateBoundary

from planexec import __version__
from planexec.registry import MemoryCache, ResultCache

from ._mcp_resources import get_prompt, list_prompts, list_resource_templates, list_resources, read_resource
from ._mcp_runs import RunRegistry
from ._mcp_schemas import META_TOOLS
from ._mcp_services import AppState, Services
from ._mcp_tools import call_tool, list_tools, listen, tool_input_schema
from ._planner_config import REQUEST_STATE_AUDIENCE
from ._sessions import Sessions

__all__ = ["ToolNameClash", "build_server"]

INSTRUCTIONS = (
    "planexec runs plans: DAGs of tool calls executed in parallel where dependencies allow. "
    "Write a plan, check it with validate_plan, run it with execute_plan, read it with get_run "
    "or planexec://runs/{run_id}. The prompt plan_and_execute explains the plan format."
)


class ToolNameClash(ValueError):
    """A catalog tool is named like a meta-tool (a configuration error)."""


class _Server(Server[AppState]):
    """The SDK's server announcing ``tools.listChanged`` on every transport: a session's
    tools change at run time (``streamable_http_app`` asks for the initialization options
    without notification options, which would announce false)."""

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        options = notification_options or NotificationOptions(tools_changed=True)
        return super().create_initialization_options(options, experimental_capabilities, extensions)


def build_server(services: Services, *, middleware: Sequence[ServerMiddleware[Any]] = ()) -> Server[AppState]:
    """The planexec MCP server on ``services``; ``middleware`` wraps every request."""
    clash = sorted({spec.name for spec in services.catalog.specs()} & set(META_TOOLS))
    if clash:
        raise ToolNameClash(f"catalog tools named like planexec's meta-tools: {', '.join(clash)}")

    @asynccontextmanager
    async def lifespan(_: Server[AppState]) -> AsyncIterator[AppState]:
        async with services.store, AsyncExitStack() as resources, anyio.create_task_group() as task_group:
            cache = services.result_cache or MemoryCache()
            if isinstance(cache, AbstractAsyncContextManager):  # a shared (Redis) cache connects
                await resources.enter_async_context(cache)
            runs = RunRegistry(task_group, services.limits.max_runs_per_tenant)
            sessions = Sessions(
                services.store,
                services.catalog,
                task_group,
                policy=services.policy,
                sources=services.session_sources,
                cache=ResultCache(cache),
                ttl_s=services.session_ttl_s,
                reserved_names=frozenset(META_TOOLS),
                changes=services.session_changes,
            )
            if services.session_changes is not None:  # other replicas' changes reach our clients
                await resources.enter_async_context(services.session_changes)
                await task_group.start(services.session_changes.follow, sessions.apply_change)
            try:
                yield AppState(services=services, runs=runs, sessions=sessions)
            finally:
                sessions.close_all()
                runs.cancel_all()
                with anyio.move_on_after(services.limits.shutdown_grace_s, shield=True):
                    await runs.wait_all()
                runs.stop_all()
                task_group.cancel_scope.cancel()

    server: Server[AppState] = _Server(
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
        on_subscriptions_listen=listen,
    )
    # Seals the request state of multi-round-trip calls (2026-07-28 sampling), outermost.
    server.middleware.append(
        RequestStateBoundary(services.planner.request_state, default_audience=REQUEST_STATE_AUDIENCE)
    )
    server.middleware.extend(middleware)
    return server
