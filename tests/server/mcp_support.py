"""What the MCP server tests share: plans, real servers (streamable HTTP on a free
loopback port in the test's event loop; stdio in a subprocess), clients in either
protocol era, and small helpers to read results."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.server.auth.provider import TokenVerifier
from mcp_types import CallToolResult

from planexec.registry import Catalog, demo_source
from planexec.server._mcp_http import http_app
from planexec.server._mcp_services import (
    PrincipalResolver,
    ServerLimits,
    Services,
    configured_identity,
)
from planexec.store import open_store

from ..asgi_support import serve_asgi

ERAS = ["legacy", "auto"]
"""``mode`` of the SDK Client: ``legacy`` initializes (2025-11-25 and before, with a
session); ``auto`` talks 2026-07-28 to this server (no session)."""

ARITHMETIC: dict[str, Any] = {
    "goal": "compute (2 + 3) * 2",
    "inputs": {"x": 2},
    "tasks": {
        "sum": {"tool_name": "add", "parameters": {"a": "$<inputs.x>", "b": 3}, "dependencies": []},
        "double": {
            "tool_name": "multiply",
            "parameters": {"a": "$<sum.output.result>", "b": 2},
            "dependencies": ["sum"],
        },
        "shout": {"tool_name": "echo", "parameters": {"value": "done"}, "dependencies": []},
    },
    "output": "$<double.output.result>",
}

SLOW: dict[str, Any] = {
    "tasks": {
        "first": {"tool_name": "echo", "parameters": {"value": 1}, "dependencies": []},
        "slow": {"tool_name": "sleep", "parameters": {"seconds": 600}, "dependencies": ["first"]},
    }
}
"""Finishes ``first`` (one progress notification), then sleeps until cancelled."""

INVALID: dict[str, Any] = {
    "tasks": {
        "a": {"tool_name": "no_such_tool", "parameters": {}, "dependencies": ["b"]},
        "b": {"tool_name": "add", "parameters": {"a": "one", "b": 2}, "dependencies": ["a"]},
    }
}


def body(result: CallToolResult) -> dict[str, Any]:
    """The structured content of a result (asserting there is an object)."""
    assert isinstance(result.structured_content, dict), result
    return result.structured_content


def error(result: CallToolResult) -> dict[str, Any]:
    """The error body of an ``is_error`` result, checked for its three fields."""
    assert result.is_error, result
    data = body(result)
    assert isinstance(data["code"], str) and isinstance(data["message"], str) and data["hint"], data
    return data


def services(
    store_url: str,
    tenant: str = "acme",
    user: str | None = "alice",
    *,
    limits: ServerLimits | None = None,
    principal_of: PrincipalResolver | None = None,
) -> Services:
    return Services(
        catalog=Catalog([demo_source()]),
        store=open_store(store_url),
        principal_of=principal_of or configured_identity(tenant, user),
        limits=limits or ServerLimits(),
    )


@asynccontextmanager
async def http_server(served: Services, *, token_verifier: TokenVerifier | None = None) -> AsyncIterator[str]:
    """planexec over streamable HTTP (uvicorn) on a free loopback port, in this event
    loop; yields the MCP URL and stops the server (and its runs) on the way out."""
    async with serve_asgi(http_app(served, host="127.0.0.1", token_verifier=token_verifier)) as base:
        yield f"{base}/mcp"


PLANEXEC = shutil.which("planexec", path=str(Path(sys.executable).parent)) or "planexec"
"""The installed console script: ``planexec serve ...`` as users run it."""


def stdio_server(store_url: str, tenant: str = "acme", *args: str) -> StdioServerParameters:
    """``planexec serve --transport stdio`` in a subprocess, acting for ``tenant``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANEXEC_")}
    env |= {"PLANEXEC_TENANT": tenant, "PLANEXEC_USER": "alice"}
    return StdioServerParameters(
        command=PLANEXEC, args=["serve", "--transport", "stdio", "--store", store_url, *args], env=env
    )


def client(target: str | StdioServerParameters, era: str) -> Client:
    return Client(target, mode=era, read_timeout_seconds=30)


@dataclass
class Progress:
    """Collects progress notifications; ``first`` is set by the first one."""

    seen: list[tuple[float, float | None, str | None]] = field(default_factory=list)
    first: anyio.Event = field(default_factory=anyio.Event)

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.seen.append((progress, total, message))
        self.first.set()


def task_ids(record: dict[str, Any]) -> Sequence[str]:
    return list(record["tasks"])


def resource_json(text: str) -> dict[str, Any]:
    data = json.loads(text)
    assert isinstance(data, dict)
    return data
