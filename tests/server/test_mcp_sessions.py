"""Session-scoped tools through the real server over streamable HTTP, in both eras.

Session A connects an upstream planexec (a real ``planexec serve`` subprocess) and lists,
calls, validates and runs its ``up__*`` tools; session B's tools do not change, calling
or validating ``up__add`` fails for B, and only A is told its tools changed. A plan
validated against a tool that later changed is refused (rug-pull guard). Hosts off the
allow-list are refused. A killed upstream fails the run cleanly after its retries; once
it is back, the same session works again without reconnecting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import ToolListChangedNotification

from planexec.registry import Catalog, McpToolSource, PythonToolSource, TrustTier
from planexec.server._session_sources import AllowListedSources
from planexec.server._sources import open_catalog

from ..registry.upstream_support import META_UPSTREAM, HttpUpstream, http_upstream
from .mcp_support import ERAS, body, error, http_server, services

pytestmark = pytest.mark.anyio


@dataclass
class Notices:
    """Tool-list changes one client was told of (older era: notifications; 2026-07-28:
    events on its subscriptions/listen stream)."""

    count: int = 0
    arrived: anyio.Event = field(default_factory=anyio.Event)

    def seen(self) -> None:
        self.count += 1
        self.arrived.set()

    async def next(self) -> None:
        with anyio.fail_after(10):
            await self.arrived.wait()
        self.arrived = anyio.Event()

    async def on_message(self, message: Any) -> None:
        if isinstance(message, ToolListChangedNotification):
            self.seen()


@asynccontextmanager
async def session(url: str, era: str, name: str) -> AsyncIterator[tuple[Client, Notices]]:
    """A client in ``era`` using the planexec session ``name`` (older-era clients get one
    of their own from Mcp-Session-Id; the header matters for 2026-07-28 clients)."""
    notices = Notices()
    headers = {"x-planexec-session": name}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        transport = streamable_http_client(url, http_client=http)
        # Older era: notifications; 2026-07-28: the listen stream (whose events the client
        # also hands the message handler, so only one of the two counts).
        handler = notices.on_message if era == "legacy" else None
        async with Client(transport, mode=era, message_handler=handler) as client:  # type: ignore[arg-type]
            async with anyio.create_task_group() as listening:
                if era != "legacy":
                    await listening.start(_listen, client, notices)
                yield client, notices
                listening.cancel_scope.cancel()


async def _listen(client: Client, notices: Notices, *, task_status: Any) -> None:
    async with client.listen(tools_list_changed=True) as events:
        task_status.started()
        async for _ in events:
            notices.seen()


@pytest.fixture
async def upstream(tmp_path: Path) -> AsyncIterator[HttpUpstream]:
    async with http_upstream(tmp_path) as up:
        yield up


@pytest.fixture
async def url(tmp_path: Path) -> AsyncIterator[str]:
    served = replace(
        services(f"sqlite:///{tmp_path / 'sessions.db'}"), session_sources=AllowListedSources(["127.0.0.1:*"])
    )
    async with http_server(served) as mcp_url:
        yield mcp_url


def _names(listed: Any) -> set[str]:
    return {tool.name for tool in listed.tools}


UP_PLAN: dict[str, Any] = {
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


@pytest.mark.parametrize("era", ERAS)
async def test_only_the_connecting_session_sees_calls_plans_with_and_hears_of_upstream_tools(
    url: str, upstream: HttpUpstream, era: str
) -> None:
    async with session(url, era, "A") as (a, a_notices), session(url, era, "B") as (b, b_notices):
        before = _names(await b.list_tools())
        connected = body(await a.call_tool("connect_server", {"alias": "up", "url": upstream.url}))
        assert "up__add" in connected.get("tools", []), connected
        await a_notices.next()

        assert {"up__add", "up__echo", "add"} <= _names(await a.list_tools())
        assert body(await a.call_tool("up__add", {"a": 2, "b": 3})) == {"result": 5}
        assert body(await a.call_tool("validate_plan", {"plan": UP_PLAN}))["valid"] is True
        record = body(await a.call_tool("execute_plan", {"plan": UP_PLAN}))
        assert (record["status"], record["output"]) == ("succeeded", 10)

        assert _names(await b.list_tools()) == before
        assert error(await b.call_tool("up__add", {"a": 2, "b": 3}))["code"] == "unknown_tool"
        checked = body(await b.call_tool("validate_plan", {"plan": UP_PLAN}))
        assert [e["code"] for e in checked["errors"]] == ["unknown_tool"]

        # B's own change reaches B: had A's leaked to B, B would have heard two by now.
        body(await b.call_tool("connect_server", {"alias": "mine", "url": upstream.url}))
        await b_notices.next()
        assert (a_notices.count, b_notices.count) == (1, 1)

        body(await a.call_tool("disconnect_server", {"alias": "up"}))
        await a_notices.next()
        assert "up__add" not in _names(await a.list_tools())
        assert error(await a.call_tool("disconnect_server", {"alias": "up"}))["code"] == "not_found"


@pytest.mark.parametrize("era", ERAS)
async def test_a_plan_validated_against_a_tool_that_changed_is_refused(
    url: str, upstream: HttpUpstream, tmp_path: Path, era: str
) -> None:
    async with session(url, era, "A") as (a, _):
        body(await a.call_tool("connect_server", {"alias": "up", "url": upstream.url}))
        plan = body(await a.call_tool("validate_plan", {"plan": UP_PLAN}))["plan"]
        # "up" now names another server whose add is not the one validated against
        async with _other_upstream(tmp_path) as other:
            body(await a.call_tool("disconnect_server", {"alias": "up"}))
            body(await a.call_tool("connect_server", {"alias": "up", "url": other}))
            for call in ({"plan_id": plan["plan_id"]}, {"plan": plan}):
                refused = error(await a.call_tool("execute_plan", call))
                assert refused["code"] == "tools_changed" and list(refused["changed"]) == ["up__add"]
            # validated again against the tool as it is now, it runs
            again = body(await a.call_tool("validate_plan", {"plan": UP_PLAN}))
            assert body(await a.call_tool("execute_plan", {"plan": again["plan"]}))["status"] == "succeeded"


@asynccontextmanager
async def _other_upstream(tmp_path: Path) -> AsyncIterator[str]:
    """An upstream whose ``add`` differs from the demo one (another description)."""
    def add(a: float, b: float) -> float:
        """Add two numbers (a different tool under the same name)."""
        return a + b

    other = replace(
        services(f"sqlite:///{tmp_path / 'other.db'}"), catalog=Catalog([PythonToolSource("other", [add])])
    )
    async with http_server(other) as other_url:
        yield other_url


@pytest.mark.parametrize("era", ERAS)
async def test_hosts_off_the_allow_list_and_bad_aliases_are_refused(url: str, era: str) -> None:
    async with session(url, era, "A") as (a, notices):
        refused = error(await a.call_tool("connect_server", {"alias": "x", "url": "http://10.1.2.3:80/mcp"}))
        assert refused["code"] == "host_not_allowed"
        endpoint = {"name": "hook", "url": "http://example.com/x", "input_schema": {"type": "object"}}
        assert error(await a.call_tool("register_tool", endpoint))["code"] == "host_not_allowed"
        bad = error(await a.call_tool("connect_server", {"alias": "a__b", "url": "http://127.0.0.1:1/mcp"}))
        assert bad["code"] == "invalid_arguments"
        dead = error(await a.call_tool("connect_server", {"alias": "dead", "url": "http://127.0.0.1:9/mcp"}))
        assert dead["code"] == "upstream_unavailable"
        clash = {"name": "add", "url": "http://127.0.0.1:9/x", "input_schema": {"type": "object"}}
        assert error(await a.call_tool("register_tool", clash))["code"] == "invalid_arguments"
        assert notices.count == 0


@pytest.mark.parametrize("era", ["auto"])
async def test_a_killed_upstream_fails_the_run_after_its_retries_and_works_again_once_back(
    url: str, upstream: HttpUpstream, era: str
) -> None:
    plan = {
        "tasks": {
            "nap": {
                "tool_name": "up__sleep",
                "parameters": {"seconds": 30, "value": 1},
                "dependencies": [],
                "retry": {"max_attempts": 3, "initial_delay_s": 0.05, "backoff": 1.0},
            }
        }
    }
    async with session(url, era, "A") as (a, _):
        body(await a.call_tool("connect_server", {"alias": "up", "url": upstream.url}))
        started = body(await a.call_tool("execute_plan", {"plan": plan, "wait": False}))

        async def run() -> dict[str, Any]:
            return body(await a.call_tool("get_run", {"run_id": started["run_id"]}))

        await _poll(run, lambda r: r["tasks"]["nap"]["status"] == "running")  # the call is in flight
        await upstream.kill()
        record = await _poll(run, lambda r: r["status"] != "running")
        nap = record["tasks"]["nap"]
        assert record["status"] == "failed" and nap["error"]["code"] == "transport_error"
        assert len(nap["attempts"]) == 3

        await upstream.start()  # the same port
        assert body(await a.call_tool("up__add", {"a": 1, "b": 1})) == {"result": 2}
        again = {"tasks": {"s": {"tool_name": "up__add", "parameters": {"a": 2, "b": 2}, "dependencies": []}}}
        assert body(await a.call_tool("execute_plan", {"plan": again}))["status"] == "succeeded"


Record = dict[str, Any]


async def _poll(read: Callable[[], Awaitable[Record]], done: Callable[[Record], bool]) -> Record:
    """Read a run until ``done`` says so (the run lives in the server: no event to await)."""
    with anyio.fail_after(30):
        while True:
            value = await read()
            if done(value):
                return value
            await anyio.sleep(0.02)


@pytest.mark.parametrize("era", ERAS)
async def test_a_configured_upstream_that_changes_its_tools_changes_every_session(
    tmp_path: Path, era: str
) -> None:
    async with open_catalog([McpToolSource("meta", META_UPSTREAM, trust=TrustTier.VERIFIED)]) as catalog:
        served = replace(services(f"sqlite:///{tmp_path / 'meta.db'}"), catalog=catalog)
        async with http_server(served) as mcp_url, session(mcp_url, era, "A") as (a, notices):
            assert "meta__grown" not in _names(await a.list_tools())
            body(await a.call_tool("meta__grow", {}))
            await notices.next()
            assert "meta__grown" in _names(await a.list_tools())
            assert body(await a.call_tool("meta__grown", {})) == {"result": "grown"}
