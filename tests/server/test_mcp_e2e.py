"""The MCP server end to end: the SDK's own Client against the real server, over stdio
(``planexec serve`` in a subprocess) and streamable HTTP (uvicorn on loopback), in both
protocol eras (``legacy``: initialize and a session; ``auto``: 2026-07-28, no session).

Every test runs on the four (transport, era) pairs against a fresh SQLite file. The
servers allow 2 runs per tenant and 256 KiB per request, so the limits are reachable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import yaml
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, INVALID_REQUEST, TextContent, TextResourceContents

from planexec.server._mcp_services import ServerLimits

from .mcp_support import (
    ARITHMETIC,
    ERAS,
    INVALID,
    SLOW,
    Progress,
    body,
    client,
    error,
    http_server,
    resource_json,
    services,
    stdio_server,
)

pytestmark = pytest.mark.anyio

MAX_RUNS = 2
MAX_BYTES = 256 * 1024
META_TOOLS = {
    "create_plan",
    "validate_plan",
    "execute_plan",
    "get_run",
    "list_runs",
    "cancel_run",
    "replay_run",
}
DEMO_TOOLS = {"echo", "add", "multiply", "concat", "sleep", "fail", "flaky", "ledger_write", "ledger_delete"}


@dataclass
class Target:
    """One server under test and how to reach it; ``tenant(name)`` starts a second
    server on the same store acting for another tenant."""

    transport: str
    era: str
    store_url: str
    address: str | StdioServerParameters

    def client(self) -> Client:
        return client(self.address, self.era)

    @asynccontextmanager
    async def tenant(self, name: str) -> AsyncIterator[Client]:
        if self.transport == "stdio":
            async with client(stdio_server(self.store_url, name), self.era) as other:
                yield other
        else:
            async with http_server(services(self.store_url, name)) as url, client(url, self.era) as other:
                yield other


@pytest.fixture(params=[(t, e) for t in ("stdio", "http") for e in ERAS], ids=lambda p: f"{p[0]}-{p[1]}")
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Target]:
    transport, era = request.param
    store_url = f"sqlite:///{tmp_path / 'planexec.db'}"
    if transport == "stdio":
        limits = ("--max-runs-per-tenant", str(MAX_RUNS), "--max-request-bytes", str(MAX_BYTES))
        yield Target(transport, era, store_url, stdio_server(store_url, "acme", *limits))
        return
    served = services(
        store_url, limits=ServerLimits(max_runs_per_tenant=MAX_RUNS, max_request_bytes=MAX_BYTES)
    )
    async with http_server(served) as url:
        yield Target(transport, era, store_url, url)


async def test_tools_are_listed_with_schemas_and_the_demo_tools_answer_directly(target: Target) -> None:
    async with target.client() as mcp:
        tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
        assert META_TOOLS | DEMO_TOOLS <= set(tools)
        for tool in tools.values():
            assert tool.input_schema["type"] == "object"
            assert tool.output_schema is not None and tool.output_schema["type"] == "object"

        added = await mcp.call_tool("add", {"a": 2, "b": 3})
        assert not added.is_error and body(added) == {"result": 5}
        assert isinstance(added.content[0], TextContent) and added.content[0].text == "5"
        assert error(await mcp.call_tool("fail", {"message": "no"}))["code"] == "tool_error"
        assert error(await mcp.call_tool("add", {"a": "two", "b": 3}))["code"] == "invalid_arguments"

        prompts = (await mcp.list_prompts()).prompts
        assert [p.name for p in prompts] == ["plan_and_execute"]
        prompt = await mcp.get_prompt("plan_and_execute", {"goal": "sum two numbers"})
        assert isinstance(prompt.messages[0].content, TextContent)
        assert "validate_plan" in prompt.messages[0].content.text


async def test_validate_then_execute_with_progress_per_task_then_read_the_run(target: Target) -> None:
    async with target.client() as mcp:
        checked = await mcp.call_tool("validate_plan", {"plan": ARITHMETIC})
        assert not checked.is_error and body(checked)["valid"] is True and body(checked)["errors"] == []
        plan_id = body(checked)["plan"]["plan_id"]

        as_yaml = await mcp.call_tool("validate_plan", {"plan": yaml.safe_dump(INVALID)})
        verdict = body(as_yaml)
        assert not as_yaml.is_error and verdict["valid"] is False and verdict["plan"] is None
        assert {"unknown_tool", "cycle", "invalid_arguments"} <= {e["code"] for e in verdict["errors"]}

        progress = Progress()
        ran = await mcp.call_tool(
            "execute_plan", {"plan": {**ARITHMETIC, "plan_id": plan_id}}, progress_callback=progress
        )
        record = body(ran)
        assert not ran.is_error and record["status"] == "succeeded" and record["output"] == 10
        assert len(progress.seen) == len(ARITHMETIC["tasks"])
        assert [p for p, _, _ in progress.seen] == [1, 2, 3]
        assert {total for _, total, _ in progress.seen} == {3}

        run_id = record["run_id"]
        assert body(await mcp.call_tool("get_run", {"run_id": run_id})) == record
        listed = body(await mcp.call_tool("list_runs", {"status": "succeeded"}))["runs"]
        assert [(r["run_id"], r["plan_id"]) for r in listed] == [(run_id, plan_id)]
        assert body(await mcp.call_tool("list_runs", {"status": "failed"}))["runs"] == []

        again = await mcp.call_tool("execute_plan", {"plan_id": plan_id, "inputs": {"x": 7}})
        assert body(again)["output"] == 20 and body(again)["plan_id"] == plan_id

        refused = error(await mcp.call_tool("execute_plan", {"plan": INVALID}))
        assert refused["code"] == "invalid_plan"
        assert {"unknown_tool", "cycle"} <= {e["code"] for e in refused["errors"]}
        assert len(body(await mcp.call_tool("list_runs", {}))["runs"]) == 2

        replayed = body(await mcp.call_tool("replay_run", {"run_id": run_id}))
        assert replayed["identical"] is True and replayed["replay_of"] == run_id
        assert replayed["status"] == "succeeded" and replayed["output"] == 10
        live = body(
            await mcp.call_tool("replay_run", {"run_id": run_id, "live": True, "from_task": "double"})
        )
        assert live["identical"] is True and live["run_id"] != run_id  # a stored run of its own
        assert len(body(await mcp.call_tool("list_runs", {}))["runs"]) == 3

        await _read_resources(mcp, run_id, plan_id, record)


async def _read_resources(mcp: Client, run_id: str, plan_id: str, record: dict[str, Any]) -> None:
    templates = {t.uri_template for t in (await mcp.list_resource_templates()).resource_templates}
    assert templates == {
        "planexec://plans/{plan_id}",
        "planexec://runs/{run_id}",
        "planexec://runs/{run_id}/graph",
    }
    listed = {str(r.uri) for r in (await mcp.list_resources()).resources}
    assert {f"planexec://runs/{run_id}", f"planexec://plans/{plan_id}"} <= listed

    (run,) = (await mcp.read_resource(f"planexec://runs/{run_id}")).contents
    assert isinstance(run, TextResourceContents) and run.mime_type == "application/json"
    assert resource_json(run.text) == record
    (plan,) = (await mcp.read_resource(f"planexec://plans/{plan_id}")).contents
    assert isinstance(plan, TextResourceContents)
    stored = resource_json(plan.text)
    assert stored["plan"]["tasks"].keys() == ARITHMETIC["tasks"].keys()
    # validate_plan stored it (the run used that plan): its tools are pinned
    provenance = stored["provenance"]
    assert (provenance["source"], provenance["user"]) == ("validate_plan", "alice")
    assert sorted(provenance["tool_fingerprints"]) == ["add", "echo", "multiply"]
    (graph,) = (await mcp.read_resource(f"planexec://runs/{run_id}/graph")).contents
    assert isinstance(graph, TextResourceContents) and graph.mime_type == "text/vnd.mermaid"
    assert graph.text.startswith("flowchart TD") and "class t0,t1,t2 succeeded" in graph.text

    with pytest.raises(MCPError) as missing:
        await mcp.read_resource("planexec://runs/no-such-run")
    assert missing.value.code == INVALID_PARAMS and missing.value.data["code"] == "not_found"
    assert missing.value.data["uri"] == "planexec://runs/no-such-run"


async def test_failures_are_error_results_with_code_message_and_hint(target: Target) -> None:
    async with target.client() as mcp:
        planner = error(await mcp.call_tool("create_plan", {"goal": "mail the Q3 summary"}))
        assert planner["code"] == "planner_not_configured" and "PLANEXEC_PLANNER_MODEL" in planner["hint"]
        assert error(await mcp.call_tool("get_run", {"run_id": "nope"}))["code"] == "not_found"
        assert error(await mcp.call_tool("cancel_run", {"run_id": "nope"}))["code"] == "not_found"
        assert error(await mcp.call_tool("execute_plan", {"plan_id": "nope"}))["code"] == "not_found"
        assert error(await mcp.call_tool("get_run", {"run": "x"}))["code"] == "invalid_arguments"
        both = {"plan": ARITHMETIC, "plan_id": "x"}
        assert error(await mcp.call_tool("execute_plan", both))["code"] == "invalid_arguments"
        assert error(await mcp.call_tool("no_such_tool", {}))["code"] == "unknown_tool"

        assert error(await mcp.call_tool("replay_run", {"run_id": "nope"}))["code"] == "not_found"

        finished = body(await mcp.call_tool("execute_plan", {"plan": ARITHMETIC}))
        over = error(await mcp.call_tool("cancel_run", {"run_id": finished["run_id"]}))
        assert over["code"] == "run_not_running"
        no_start = {"run_id": finished["run_id"], "live": True}
        assert error(await mcp.call_tool("replay_run", no_start))["code"] == "not_replayable"


async def test_cancel_run_stops_a_running_plan(target: Target) -> None:
    async with target.client() as mcp, _canceller(target, mcp) as other:
        progress = Progress()
        outcome: dict[str, Any] = {}

        async def execute() -> None:
            outcome.update(
                body(await mcp.call_tool("execute_plan", {"plan": SLOW}, progress_callback=progress))
            )

        async with anyio.create_task_group() as task_group:
            task_group.start_soon(execute)
            with anyio.fail_after(20):
                await progress.first.wait()  # "first" finished: "slow" is running
            (running,) = body(await other.call_tool("list_runs", {"status": "running"}))["runs"]
            cancelled = await other.call_tool("cancel_run", {"run_id": running["run_id"]})
        assert body(cancelled)["status"] == "cancelled"
        assert outcome["status"] == "cancelled" and outcome["run_id"] == running["run_id"]
        assert outcome["tasks"]["slow"]["status"] == "cancelled"
        assert body(await mcp.call_tool("get_run", {"run_id": running["run_id"]}))["status"] == "cancelled"


@asynccontextmanager
async def _canceller(target: Target, mcp: Client) -> AsyncIterator[Client]:
    """Over HTTP a second client of the same tenant; over stdio (one client per server
    process) the same client, calling concurrently."""
    if target.transport == "http":
        async with target.client() as other:
            yield other
    else:
        yield mcp


async def test_wait_false_answers_the_run_id_and_the_tenant_run_limit_holds(target: Target) -> None:
    async with target.client() as mcp:
        run_ids = []
        for _ in range(MAX_RUNS):
            started = await mcp.call_tool("execute_plan", {"plan": SLOW, "wait": False})
            assert not started.is_error and set(body(started)) == {"run_id"}
            run_ids.append(body(started)["run_id"])
        assert body(await mcp.call_tool("get_run", {"run_id": run_ids[0]}))["status"] == "running"

        refused = error(await mcp.call_tool("execute_plan", {"plan": SLOW, "wait": False}))
        assert refused["code"] == "too_many_runs" and refused["limit"] == MAX_RUNS

        for run_id in run_ids:
            assert body(await mcp.call_tool("cancel_run", {"run_id": run_id}))["status"] == "cancelled"
        admitted = await mcp.call_tool("execute_plan", {"plan": ARITHMETIC})
        assert body(admitted)["status"] == "succeeded"


async def test_a_request_over_the_size_limit_is_refused(target: Target) -> None:
    oversized = {"plan": "x" * (MAX_BYTES + 1)}
    async with target.client() as mcp:
        with pytest.raises(MCPError) as refused:
            await mcp.call_tool("validate_plan", oversized)
        if target.transport == "stdio":
            assert refused.value.code == INVALID_REQUEST and refused.value.data["code"] == "request_too_large"
        still = await mcp.call_tool("validate_plan", {"plan": ARITHMETIC})  # the server serves on
        assert body(still)["valid"] is True
    if target.transport == "http":
        assert isinstance(target.address, str)
        async with httpx2.AsyncClient(timeout=10) as raw:
            response = await raw.post(
                target.address,
                content=b"x" * (MAX_BYTES + 1),
                headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream"},
            )
        assert response.status_code == 413  # the SDK client reports it as the MCPError above


async def test_another_tenant_cannot_read_runs_or_plans(target: Target) -> None:
    async with target.client() as acme:
        record = body(await acme.call_tool("execute_plan", {"plan": ARITHMETIC}))
    run_id, plan_id = record["run_id"], record["plan_id"]
    async with target.tenant("globex") as globex:
        assert error(await globex.call_tool("get_run", {"run_id": run_id}))["code"] == "not_found"
        assert error(await globex.call_tool("execute_plan", {"plan_id": plan_id}))["code"] == "not_found"
        assert body(await globex.call_tool("list_runs", {}))["runs"] == []
        for uri in (
            f"planexec://runs/{run_id}",
            f"planexec://plans/{plan_id}",
            f"planexec://runs/{run_id}/graph",
        ):
            with pytest.raises(MCPError) as hidden:
                await globex.read_resource(uri)
            assert hidden.value.data["code"] == "not_found"
        assert (await globex.list_resources()).resources == []
