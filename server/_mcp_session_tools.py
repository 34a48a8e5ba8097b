"""The meta-tools that change a session's tools: connect_server, disconnect_server,
register_tool (DESIGN §6, §7).

Each acts on the caller's own session (``Call.live_session``); the change is stored with
the session (any replica serves it) and notifies that session's clients only. URLs must
be on a host the server allows (``planexec serve --allow-upstream``); remote clients
never make the server start a process (stdio upstreams come from server configuration).
"""

from __future__ import annotations

from mcp_types import CallToolResult

from ._mcp_run_tools import Call, ok
from ._mcp_schemas import ConnectServerArgs, DisconnectServerArgs, RegisterToolArgs

__all__ = ["connect_server", "disconnect_server", "register_tool"]


async def connect_server(call: Call, args: ConnectServerArgs) -> CallToolResult:
    live = await call.live_session()
    specs = await call.state.sessions.connect_server(live, args.alias, args.url)
    names = sorted(spec.name for spec in specs)
    data = {"session": live.key.session_id, "tools": names}
    return ok(data, f"connected {args.alias}: {len(names)} tool(s) ({', '.join(names[:10])})")


async def disconnect_server(call: Call, args: DisconnectServerArgs) -> CallToolResult:
    live = await call.live_session()
    await call.state.sessions.disconnect_server(live, args.alias)
    return ok({"session": live.key.session_id, "tools": []}, f"disconnected {args.alias}")


async def register_tool(call: Call, args: RegisterToolArgs) -> CallToolResult:
    live = await call.live_session()
    endpoint = args.model_dump(mode="json", exclude={"session"})
    specs = await call.state.sessions.register_tool(live, endpoint)
    names = sorted(spec.name for spec in specs)
    return ok({"session": live.key.session_id, "tools": names}, f"registered {args.name}")
