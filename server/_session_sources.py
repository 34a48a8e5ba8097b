"""The sources sessions add at run time, limited to the hosts the server allows.

``planexec serve --allow-upstream HOST[:PORT]`` (repeatable, or ``allow_upstream`` in
the config file) lists where ``connect_server`` and ``register_tool`` may reach; with no
entry, they reach nowhere. Session upstreams are streamable HTTP only and untrusted:
a client never makes the server start a process.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from planexec.registry import (
    HostAllowList,
    HttpEndpoint,
    HttpToolSource,
    McpToolSource,
    ToolSource,
    TrustTier,
)

__all__ = ["AllowListedSources"]


class AllowListedSources:
    """:class:`~._sessions.SessionSources` over the registry's MCP and HTTP sources."""

    def __init__(
        self, allowed: Iterable[str], *, upstream_timeout_s: float = 60.0, connect_timeout_s: float = 5.0
    ) -> None:
        self.allow_list = HostAllowList(allowed)
        self.upstream_timeout_s = upstream_timeout_s
        self.connect_timeout_s = connect_timeout_s
        """Short: a session's request waits while its upstream (re)connects."""

    def check_url(self, url: str) -> None:
        self.allow_list.check(url)

    def mcp(self, alias: str, url: str, on_change: Callable[[], Awaitable[None]]) -> ToolSource:
        self.check_url(url)

        async def changed(_: McpToolSource) -> None:
            await on_change()

        return McpToolSource(
            alias,
            url,
            trust=TrustTier.UNTRUSTED,
            timeout_s=self.upstream_timeout_s,
            connect_timeout_s=self.connect_timeout_s,
            on_change=changed,
        )

    def http(self, alias: str, endpoints: list[dict[str, Any]]) -> ToolSource:
        made = []
        for endpoint in endpoints:
            self.check_url(str(endpoint["url"]))
            made.append(
                HttpEndpoint(
                    name=endpoint["name"],
                    url=endpoint["url"],
                    method=endpoint.get("method", "POST"),
                    description=endpoint.get("description", ""),
                    input_schema=endpoint.get("input_schema") or {"type": "object"},
                    output_schema=endpoint.get("output_schema"),
                )
            )
        return HttpToolSource(alias, made, trust=TrustTier.UNTRUSTED)
