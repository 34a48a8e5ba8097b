"""``--tools`` upstream MCP sources: how values parse, and ``planexec validate``/``run``
against a real upstream (``planexec serve`` over streamable HTTP and stdio)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import StdioServerParameters

from planexec.registry import McpToolSource, PythonToolSource, TrustTier
from planexec.server._sources import ToolSourceError, source_from_spec, tool_sources

from ..registry.upstream_support import http_upstream
from .cli import PLANEXEC, write_plan

PLAN: dict[str, Any] = {
    "tasks": {
        "sum": {"tool_name": "up__add", "parameters": {"a": 2, "b": 3}, "dependencies": []},
        "double": {
            "tool_name": "multiply",
            "parameters": {"a": "$<sum.output.result>", "b": 2},
            "dependencies": ["sum"],
        },
    },
    "output": "$<double.output.result>",
}


@pytest.mark.parametrize(
    ("spec", "alias", "endpoint"),
    [
        ("up=http://127.0.0.1:9000/mcp", "up", "http://127.0.0.1:9000/mcp"),
        ("http://127.0.0.1:9000/mcp", "127-0-0-1", "http://127.0.0.1:9000/mcp"),
        ("https://Tools.Example.com/mcp?a=b", "tools-example-com", "https://Tools.Example.com/mcp?a=b"),
        ("x-1=https://h/mcp?k=v=w", "x-1", "https://h/mcp?k=v=w"),
        ("stdio:/opt/My_Server -f 'two words'", "my-server", ("/opt/My_Server", ["-f", "two words"])),
        ("fs=stdio:npx -y server-fs /tmp", "fs", ("npx", ["-y", "server-fs", "/tmp"])),
    ],
)
def test_upstream_values_parse_into_sources(spec: str, alias: str, endpoint: Any) -> None:
    source = source_from_spec(spec)
    assert isinstance(source, McpToolSource)
    assert source.alias == source.name == alias and source.trust is TrustTier.VERIFIED
    if isinstance(endpoint, str):
        assert source.endpoint == endpoint
    else:
        assert isinstance(source.endpoint, StdioServerParameters)
        assert (source.endpoint.command, source.endpoint.args) == endpoint


@pytest.mark.parametrize(
    "spec",
    ["stdio:", "stdio:'unclosed", "http://", "bad alias=http://h/mcp", "x" * 25 + "=http://h/mcp", "up=ftp://h"],
)
def test_bad_upstream_values_are_usage_errors(spec: str) -> None:
    with pytest.raises(ToolSourceError):
        source_from_spec(spec)


def test_two_sources_with_one_name_are_refused() -> None:
    assert isinstance(tool_sources(["demo", "up=http://h/mcp"])[0], PythonToolSource)
    with pytest.raises(ToolSourceError):
        tool_sources(["up=http://a/mcp", "up=http://b/mcp"])


async def _planexec(*args: str) -> tuple[int, str, str]:
    done = await anyio.run_process([PLANEXEC, *args], check=False)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


@pytest.mark.anyio
async def test_validate_and_run_call_upstream_tools(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, PLAN)
    async with http_upstream(tmp_path) as upstream:
        tools = ["--tools", "demo", "--tools", f"up={upstream.url}"]
        code, out, err = await _planexec("validate", plan, "--json", *tools)
        assert code == 0, err
        assert json.loads(out)["valid"] is True
        store = f"sqlite:///{tmp_path / 'r.db'}"
        code, out, err = await _planexec("run", plan, "--json", "--store", store, *tools)
    assert code == 0, err
    record = json.loads(out)
    assert record["status"] == "succeeded" and record["output"] == 10
    assert record["tasks"]["sum"]["output"] == {"result": 5}


@pytest.mark.anyio
async def test_an_unreachable_upstream_ends_the_command_with_upstream_unavailable(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    plan = write_plan(tmp_path, PLAN)
    tools = ["--tools", "demo", "--tools", f"up=http://127.0.0.1:{dead}/mcp"]
    code, out, _ = await _planexec("run", plan, "--json", "--store", f"sqlite:///{tmp_path / 'r.db'}", *tools)
    assert code == 1
    error = json.loads(out)["error"]
    assert error["code"] == "upstream_unavailable" and set(error) == {"code", "message"}
