"""Two planexec replicas sharing one Redis store: a session's tools added through one
(an upstream MCP server, an HTTP endpoint) are served by the other, for 2026-07-28
clients, which carry no transport session, and the session's clients listening on the
other are told; a cached result made by one is a hit on the other; another principal
naming the same session id gets a session of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx2
import pytest
import redis
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from planexec.registry import Catalog, PythonToolSource, ToolAnnotations, demo_source, tool
from planexec.server._mcp_services import configured_identity
from planexec.server._session_sources import AllowListedSources
from planexec.store import RedisResultCache, RedisSessionChanges

from ..asgi_support import serve_asgi
from ..registry.upstream_support import HttpUpstream, http_upstream
from ..store.redis_server import RedisServer
from .mcp_support import body, error, http_server, services
from .test_mcp_sessions import session

pytestmark = pytest.mark.anyio

LOOKUPS: list[int] = []


@tool(annotations=ToolAnnotations(read_only=True), cache_ttl_s=60)
def lookup(key: int) -> dict[str, Any]:
    """A cached read-only lookup (counts its real calls)."""
    LOOKUPS.append(key)
    return {"key": key, "call": len(LOOKUPS)}


@asynccontextmanager
async def replica(redis_url: str, user: str = "alice", *, changes: bool = True) -> AsyncIterator[str]:
    served = replace(
        services(redis_url, principal_of=configured_identity("acme", user)),
        catalog=Catalog([demo_source(), PythonToolSource("lookups", [lookup])]),
        session_sources=AllowListedSources(["127.0.0.1:*"]),
        result_cache=RedisResultCache(redis_url),
        session_changes=RedisSessionChanges(redis_url) if changes else None,
    )
    async with http_server(served) as url:
        yield url


@asynccontextmanager
async def client(url: str, session: str) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"x-planexec-session": session}, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http)) as mcp:  # type: ignore[arg-type]
            yield mcp


async def _echo_endpoint(request: Request) -> JSONResponse:
    return JSONResponse({"echoed": await request.json()})


@asynccontextmanager
async def endpoint() -> AsyncIterator[str]:
    """A plain HTTP endpoint on a free loopback port."""
    async with serve_asgi(Starlette(routes=[Route("/echo", _echo_endpoint, methods=["POST"])])) as base:
        yield f"{base}/echo"


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis.Redis.from_url(redis_server.url).flushdb()
    LOOKUPS.clear()
    return redis_server.url


@pytest.fixture
async def upstream(tmp_path: Path) -> AsyncIterator[HttpUpstream]:
    async with http_upstream(tmp_path) as up:
        yield up


async def _names(mcp: Client) -> set[str]:
    return {t.name for t in (await mcp.list_tools()).tools}


async def test_a_session_made_on_one_replica_is_served_by_the_other(
    redis_url: str, upstream: HttpUpstream
) -> None:
    schema = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    async with replica(redis_url) as one, replica(redis_url) as two, endpoint() as echo_url:
        async with client(one, "shared") as first:
            body(await first.call_tool("connect_server", {"alias": "up", "url": upstream.url}))
            registered = {"name": "shout", "url": echo_url, "method": "POST", "input_schema": schema}
            assert body(await first.call_tool("register_tool", registered))["tools"] == ["shout"]
            assert body(await first.call_tool("shout", {"text": "hi"})) == {"echoed": {"text": "hi"}}

        async with client(two, "shared") as second:
            assert {"up__add", "shout"} <= await _names(second)
            assert body(await second.call_tool("up__add", {"a": 4, "b": 5})) == {"result": 9}
            assert body(await second.call_tool("shout", {"text": "yo"})) == {"echoed": {"text": "yo"}}
            task = {"tool_name": "up__add", "parameters": {"a": 1, "b": 1}, "dependencies": []}
            record = body(await second.call_tool("execute_plan", {"plan": {"tasks": {"s": task}}}))
            assert record["output"] == {"s": {"result": 2}}
            # a change made on the second replica is seen by the first
            body(await second.call_tool("disconnect_server", {"alias": "up"}))
        async with client(one, "shared") as again:
            names = await _names(again)
            assert "up__add" not in names and "shout" in names

        async with client(two, "another") as other_session:
            assert not {"up__add", "shout"} & await _names(other_session)


async def test_another_principal_naming_the_same_session_gets_its_own(
    redis_url: str, upstream: HttpUpstream
) -> None:
    async with replica(redis_url, "alice") as alices, replica(redis_url, "mallory") as mallorys:
        async with client(alices, "s1") as alice:
            body(await alice.call_tool("connect_server", {"alias": "up", "url": upstream.url}))
        async with client(mallorys, "s1") as mallory:
            assert "up__add" not in await _names(mallory)
            assert error(await mallory.call_tool("up__add", {"a": 1, "b": 1}))["code"] == "unknown_tool"


async def test_a_result_cached_on_one_replica_is_a_hit_on_the_other(redis_url: str) -> None:
    async with replica(redis_url) as one, replica(redis_url) as two:
        async with client(one, "x") as first, client(two, "y") as second:
            made = body(await first.call_tool("lookup", {"key": 3}))
            assert body(await second.call_tool("lookup", {"key": 3})) == made
            assert LOOKUPS == [3]


async def test_a_change_on_one_replica_is_told_to_the_sessions_clients_on_the_other(redis_url: str) -> None:
    # 2026-07-28 clients: their requests may reach any replica while their listen stream
    # stays on one. (An older-era client's session is its Mcp-Session-Id, which lives on
    # one replica: its requests all go there, and so are its notifications.)
    schema = {"type": "object", "properties": {"text": {"type": "string"}}}
    async with replica(redis_url) as one, replica(redis_url) as two, endpoint() as echo_url:
        async with session(two, "auto", "shared") as (listener, heard), session(
            two, "auto", "other"
        ) as (bystander, idle):
            for mcp in (listener, bystander):  # each session is served on the second replica
                assert "shout" not in await _names(mcp)
            async with client(one, "shared") as changer:
                registered = {"name": "shout", "url": echo_url, "method": "POST", "input_schema": schema}
                body(await changer.call_tool("register_tool", registered))
            await heard.next()  # told on the second replica of a change made on the first
            assert "shout" in await _names(listener)
            assert body(await listener.call_tool("shout", {"text": "hi"})) == {"echoed": {"text": "hi"}}

            async with client(one, "other") as changer:
                body(await changer.call_tool("register_tool", {**registered, "name": "whisper"}))
            await idle.next()
            assert (heard.count, idle.count) == (1, 1)  # each session heard of its own change only
            assert "shout" not in await _names(bystander)


async def test_a_replica_that_learns_of_a_change_from_a_request_tells_its_listeners(redis_url: str) -> None:
    # Without the change feed (or with its message lost), a request of the session on the
    # second replica finds the new revision in the store: its listeners there are told.
    schema = {"type": "object", "properties": {"text": {"type": "string"}}}
    quiet = {"changes": False}
    async with replica(redis_url, **quiet) as one, replica(redis_url, **quiet) as two, endpoint() as echo_url:
        async with session(two, "auto", "shared") as (listener, heard):
            async with client(one, "shared") as changer:
                registered = {"name": "shout", "url": echo_url, "method": "POST", "input_schema": schema}
                body(await changer.call_tool("register_tool", registered))
            assert heard.count == 0
            async with client(two, "shared") as other_client_of_the_session:
                assert "shout" in await _names(other_client_of_the_session)
            await heard.next()
            assert "shout" in await _names(listener)
            assert heard.count == 1
