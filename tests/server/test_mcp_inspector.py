"""An outside client: the MCP Inspector CLI (npm ``@modelcontextprotocol/inspector``) lists
and calls planexec's tools over streamable HTTP (both eras) and over stdio.

The Inspector is installed into ``.node/inspector`` (git-ignored) on first use. Without
npm or the npm registry the test skips, except under CI (``CI`` set), where it fails."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest

from .mcp_support import ARITHMETIC, PLANEXEC, http_server, services

INSPECTOR_VERSION = "2.12"
ROOT = Path(__file__).resolve().parents[2]
PREFIX = ROOT / ".node" / "inspector"
BIN = PREFIX / "node_modules" / ".bin" / "mcp-inspector"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the MCP Inspector is needed in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def inspector() -> Path:
    if BIN.exists():
        return BIN
    npm = shutil.which("npm")
    if npm is None:
        _unavailable("npm is not installed")
    command = [npm, "install", "--prefix", str(PREFIX), "--no-audit", "--no-fund", "--no-save", "--silent"]
    proc = subprocess.run(
        [*command, f"@modelcontextprotocol/inspector@{INSPECTOR_VERSION}"],
        capture_output=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0 or not BIN.exists():
        _unavailable(f"npm could not install the Inspector: {proc.stderr.decode(errors='replace')[-500:]}")
    return BIN


TOOL_IS_ERROR = 5
"""The Inspector CLI's exit code for a tool result with ``isError`` (printed as usual)."""


async def _inspect(inspector: Path, target: list[str], *args: str, exit_code: int = 0) -> dict[str, Any]:
    """Run one Inspector CLI call; its JSON answer's ``result``."""
    command = [str(inspector), "--cli", *args, "--format", "json", "-q", "--", *target]
    with anyio.fail_after(60):
        proc = await anyio.run_process(command, check=False)
    assert proc.returncode == exit_code, proc.stderr.decode(errors="replace")
    result: dict[str, Any] = json.loads(proc.stdout)["result"]
    return result


async def _lists_and_calls(inspector: Path, target: list[str], *era: str, everything: bool = True) -> None:
    listed = await _inspect(inspector, target, *era, "--method", "tools/list")
    names = {tool["name"] for tool in listed["tools"]}
    assert {"validate_plan", "execute_plan", "get_run", "add", "sleep"} <= names
    assert all("outputSchema" in tool for tool in listed["tools"])

    added = await _inspect(
        inspector, target, *era, "--method", "tools/call", "--tool-name", "add", "--tool-arg", "a=2", "b=3"
    )
    assert added["structuredContent"] == {"result": 5} and added["isError"] is False
    if not everything:  # each call starts a server process: keep it short
        return

    plan = f"plan={json.dumps(ARITHMETIC)}"
    ran = await _inspect(
        inspector, target, *era, "--method", "tools/call", "--tool-name", "execute_plan", "--tool-arg", plan
    )
    assert ran["isError"] is False and ran["structuredContent"]["output"] == 10

    call = ["--method", "tools/call", "--tool-name", "get_run", "--tool-arg", "run_id=nope"]
    unknown = await _inspect(inspector, target, *era, *call, exit_code=TOOL_IS_ERROR)
    assert unknown["isError"] is True and unknown["structuredContent"]["code"] == "not_found"


pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("era", [(), ("--protocol-era", "modern")], ids=["legacy", "modern"])
async def test_the_inspector_lists_and_calls_tools_over_http(
    inspector: Path, era: tuple[str, ...], tmp_path: Path
) -> None:
    async with http_server(services(f"sqlite:///{tmp_path / 'i.db'}")) as url:
        await _lists_and_calls(inspector, [url], *era)


async def test_the_inspector_lists_and_calls_tools_over_stdio(inspector: Path, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'i.db'}"
    server = [PLANEXEC, "serve", "--store", store]
    await _lists_and_calls(inspector, server, "-e", "PLANEXEC_TENANT=acme", everything=False)
