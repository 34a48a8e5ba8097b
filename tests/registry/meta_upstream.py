"""A tiny upstream MCP server for the source tests, run over stdio as a script.

``whoami`` returns the ``_meta`` its request carried; ``fail_softly`` answers with an
``is_error`` result that has structured content; ``grow`` adds the tool ``grown`` and
tells the client its tool list changed (a notification in the older era, a listen event
in 2026-07-28).
``die`` ends the process in the middle of its call. One tool has a name too long to
prefix (the source must skip it).
"""

from __future__ import annotations

import os
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, TextContent
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

server = MCPServer("meta-upstream")


@server.tool()
async def whoami(ctx: Context) -> dict[str, Any]:
    """The _meta of this request."""
    meta = ctx.request_context.meta or {}
    return {"meta": {k: v for k, v in dict(meta).items() if k.startswith("planexec/")}}


@server.tool()
async def fail_softly(reason: str) -> CallToolResult:
    """Answer with an is_error result carrying structured content."""
    return CallToolResult(
        content=[TextContent(type="text", text=reason)],
        structured_content={"code": "refused", "message": reason, "retryable": True},
        is_error=True,
    )


@server.tool(name="t" * 64)
async def long_name() -> str:
    """A tool whose prefixed name would be too long."""
    return "unreachable"


async def grown() -> str:
    """Added at run time by grow."""
    return "grown"


@server.tool()
async def grow(ctx: Context) -> str:
    """Add the tool 'grown' and notify the client."""
    server.add_tool(grown)
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        await ctx.notify_tools_changed()  # to subscriptions/listen streams
    else:
        await ctx.session.send_tool_list_changed()
    return "grew"


@server.tool()
async def die() -> str:
    """End this server process while the call is under way."""
    os._exit(3)


if __name__ == "__main__":
    server.run("stdio")
