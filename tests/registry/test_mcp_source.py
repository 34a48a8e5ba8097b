"""McpToolSource against real upstreams: ``planexec serve`` over streamable HTTP (a
subprocess, killed and restarted on the same port) and over stdio, and a tiny stdio
server that echoes the ``_meta`` it receives. Both client eras."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import StdioServerParameters

from planexec.executor import Executor, RunStatus
from planexec.registry import (
    Catalog,
    McpToolSource,
    ToolCallError,
    ToolErrorCode,
    TrustTier,
    UpstreamUnavailable,
    demo_source,
)
from planexec.schemas import PlanObject
from planexec.server._auth import create_api_key
from planexec.store import open_store

from .upstream_support import META_UPSTREAM, HttpUpstream, http_upstream, stdio_upstream

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]
META = {
    "planexec/run_id": "run-1",
    "planexec/task_id": "sum",
    "planexec/attempt": 2,
    "planexec/idempotency_key": "run-1:sum",
}


def _dead_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def _check_demo_tools(source: McpToolSource) -> None:
    add = {spec.name: spec for spec in source.specs()}["up__add"]
    assert add.source == "mcp:up"
    assert set(add.input_schema["properties"]) == {"a", "b"}
    assert add.output_schema is not None
    assert add.annotations.read_only is True and add.annotations.idempotent is True
    assert source.skipped == []
    assert (await source.call("up__add", {"a": 2, "b": 3}, META)).structured_content == {"result": 5}
    failed = await source.call("up__fail", {"message": "no"}, META)
    assert failed.is_error
    assert failed.structured_content is not None and failed.structured_content["code"] == "tool_error"


class _CountingSource(McpToolSource):
    """Counts the connections it makes."""

    connections = 0

    async def _client(self, stack: Any) -> Any:
        self.connections += 1
        return await super()._client(stack)


@pytest.mark.parametrize("era", ERAS)
async def test_http_upstream_killed_mid_call_then_restarted_works_again_with_the_same_source(
    era: str, tmp_path: Path
) -> None:
    async with http_upstream(tmp_path) as upstream, _CountingSource("up", upstream.url, mode=era) as source:
        assert all(spec.trust is TrustTier.UNTRUSTED for spec in source.specs())
        await _check_demo_tools(source)
        outcome: list[BaseException] = []

        async def slow_call() -> None:
            try:
                await source.call("up__sleep", {"seconds": 30}, META)
            except ToolCallError as error:
                outcome.append(error)

        async with anyio.create_task_group() as task_group:
            task_group.start_soon(slow_call)
            await anyio.wait_all_tasks_blocked()  # the request is out, its answer awaited
            await upstream.kill()
        (error,) = outcome
        assert isinstance(error, UpstreamUnavailable)
        assert error.code is ToolErrorCode.TRANSPORT_ERROR and error.retryable

        with pytest.raises(UpstreamUnavailable) as refused:  # still down: the reconnect is refused
            await source.call("up__add", {"a": 1, "b": 1}, META)
        assert refused.value.code is ToolErrorCode.TRANSPORT_ERROR and refused.value.retryable
        assert source.connections == 2

        await upstream.start()  # the same port
        results: list[Any] = []

        async def call(n: int) -> None:
            results.append((await source.call("up__add", {"a": n, "b": 1}, META)).structured_content)

        async with anyio.create_task_group() as task_group:
            for n in range(8):
                task_group.start_soon(call, n)
        assert sorted(r["result"] for r in results) == list(range(1, 9))
        assert source.connections == 3  # the eight concurrent callers shared one reconnect


@pytest.mark.parametrize("era", ERAS)
async def test_stdio_upstream_lists_calls_times_out_and_stops_with_the_source(
    era: str, tmp_path: Path
) -> None:
    upstream = stdio_upstream(tmp_path)
    async with McpToolSource("up", upstream, mode=era, trust=TrustTier.VERIFIED, timeout_s=0.5) as source:
        assert {spec.trust for spec in source.specs()} == {TrustTier.VERIFIED}
        await _check_demo_tools(source)

        with pytest.raises(ToolCallError) as timed_out:  # no caller deadline: timeout_s bounds it
            await source.call("up__sleep", {"seconds": 30}, META)
        assert timed_out.value.code is ToolErrorCode.TIMEOUT and timed_out.value.retryable

        with anyio.move_on_after(0.2) as scope:  # a caller's deadline: cancelled, no error
            await source.call("up__sleep", {"seconds": 30}, META)
        assert scope.cancelled_caught
        assert (await source.call("up__add", {"a": 3, "b": 4}, META)).structured_content == {"result": 7}
    with pytest.raises(UpstreamUnavailable):
        await source.call("up__add", {"a": 1, "b": 1}, META)


async def test_headers_go_with_every_http_request(tmp_path: Path) -> None:
    async with http_upstream(tmp_path, auth=True) as upstream:
        async with open_store(upstream.store) as store:
            key, _ = await create_api_key(store, "upstream", "bob")
        with pytest.raises(UpstreamUnavailable):  # 401 without the token
            async with McpToolSource("up", upstream.url):
                pass
        bearer = {"Authorization": f"Bearer {key}"}
        async with McpToolSource("up", upstream.url, headers=bearer) as source:
            assert (await source.call("up__add", {"a": 2, "b": 5}, META)).structured_content == {"result": 7}


@pytest.mark.parametrize(
    "endpoint",
    [
        pytest.param(lambda: f"http://127.0.0.1:{_dead_port()}/mcp", id="dead-port"),
        pytest.param(lambda: StdioServerParameters(command="/nonexistent/upstream"), id="missing-command"),
    ],
)
async def test_an_unreachable_upstream_fails_on_entering(endpoint: Any) -> None:
    with pytest.raises(UpstreamUnavailable) as refused:
        async with McpToolSource("up", endpoint(), connect_timeout_s=10):
            pass
    assert refused.value.code is ToolErrorCode.TRANSPORT_ERROR and refused.value.retryable
    assert refused.value.detail["source"] == "mcp:up"


def test_aliases_and_endpoints_are_checked_when_built() -> None:
    for alias in ["", "with space", "under_score", "x" * 25]:
        with pytest.raises(ValueError):
            McpToolSource(alias, "http://127.0.0.1:1/mcp")
    with pytest.raises(ValueError):
        McpToolSource("up", "ftp://127.0.0.1/mcp")
    with pytest.raises(ValueError):
        McpToolSource("up", META_UPSTREAM, headers={"authorization": "Bearer x"})


@pytest.mark.parametrize("era", ERAS)
async def test_meta_travels_as_the_request_meta_and_error_results_keep_their_body(era: str) -> None:
    async with McpToolSource("meta", META_UPSTREAM, mode=era) as source:
        assert source.skipped == ["t" * 64]
        assert {spec.name for spec in source.specs()} == {
            "meta__whoami",
            "meta__fail_softly",
            "meta__grow",
            "meta__die",
        }
        echoed = await source.call("meta__whoami", {}, META)
        assert echoed.structured_content == {"meta": META}

        refused = await source.call("meta__fail_softly", {"reason": "busy"}, META)
        assert refused.is_error and refused.retryable
        assert refused.structured_content == {"code": "refused", "message": "busy", "retryable": True}
        assert refused.content == [{"type": "text", "text": "busy"}]

        with pytest.raises(ToolCallError) as unknown:
            await source.call("meta__nothing", {}, META)
        assert unknown.value.code is ToolErrorCode.TOOL_ERROR


@pytest.mark.parametrize("era", ERAS)
async def test_a_stdio_upstream_that_dies_mid_call_is_started_again_by_the_next_call(era: str) -> None:
    async with McpToolSource("meta", META_UPSTREAM, mode=era) as source:
        with pytest.raises(UpstreamUnavailable) as lost:
            await source.call("meta__die", {}, META)
        assert lost.value.code is ToolErrorCode.TRANSPORT_ERROR and lost.value.retryable
        echoed = await source.call("meta__whoami", {}, META)  # a new process
        assert echoed.structured_content == {"meta": META}


@pytest.mark.parametrize("era", ERAS)
async def test_announced_tool_changes_and_a_reconnection_to_other_tools_call_on_change(era: str) -> None:
    seen: list[set[str]] = []
    changes = [anyio.Event(), anyio.Event()]

    async def on_change(source: McpToolSource) -> None:
        seen.append({spec.name for spec in source.specs()})
        changes[len(seen) - 1].set()

    async with McpToolSource("meta", META_UPSTREAM, mode=era, on_change=on_change) as source:
        assert "meta__grown" not in {spec.name for spec in source.specs()}
        await source.call("meta__grow", {}, META)
        with anyio.fail_after(10):
            await changes[0].wait()
        assert "meta__grown" in seen[0]
        assert (await source.call("meta__grown", {}, META)).structured_content == {"result": "grown"}
        assert "meta__grown" in {spec.name for spec in await source.refresh()}
        assert len(seen) == 1  # refresh() does not call on_change

        with pytest.raises(UpstreamUnavailable):
            await source.call("meta__die", {}, META)
        await source.call("meta__whoami", {}, META)  # a new process, without 'grown'
        with anyio.fail_after(10):
            await changes[1].wait()
        assert "meta__grown" not in seen[1] and "meta__whoami" in seen[1]


async def test_the_executor_retries_an_upstream_call_across_a_restart(tmp_path: Path) -> None:
    plan = PlanObject.model_validate(
        {
            "tasks": {
                "sum": {
                    "tool_name": "up__add",
                    "parameters": {"a": 2, "b": 3},
                    "dependencies": [],
                    "retry": {"max_attempts": 3, "initial_delay_s": 0.01, "jitter": False},
                },
                "double": {
                    "tool_name": "multiply",
                    "parameters": {"a": "$<sum.output.result>", "b": 2},
                    "dependencies": ["sum"],
                },
            },
            "output": "$<double.output.result>",
        }
    )
    async with anyio.create_task_group() as task_group:
        upstream = HttpUpstream(tmp_path, task_group)
        await upstream.start()
        try:
            async with McpToolSource("up", upstream.url) as source:
                await upstream.kill()
                waits: list[float] = []

                async def restart_while_waiting(seconds: float) -> None:
                    waits.append(seconds)
                    await upstream.start()

                executor = Executor(Catalog([demo_source(), source]), sleep=restart_while_waiting)
                record = await executor.run(plan)
        finally:
            await upstream.kill()
    assert record.status is RunStatus.SUCCEEDED and record.output == 10
    attempts = record.tasks["sum"].attempts
    assert [a.n for a in attempts] == [1, 2] and len(waits) == 1
    assert attempts[0].error is not None and attempts[0].error.code == "transport_error"
    assert attempts[1].output == {"result": 5}


def test_tools_whose_schemas_are_not_json_schemas_are_left_out() -> None:
    from mcp_types import Tool

    from planexec.registry._mcp_source import _usable_schemas

    good = {"type": "object", "properties": {"a": {"type": "number"}}}
    assert _usable_schemas(Tool(name="ok", input_schema=good, output_schema=good))
    bad = {"type": "object", "properties": {"a": {"type": 5}}}
    assert not _usable_schemas(Tool(name="bad_in", input_schema=bad))
    assert not _usable_schemas(Tool(name="bad_out", input_schema=good, output_schema={"required": "a"}))
