"""``planexec serve`` as a process: usage errors exit 2 before anything listens, an
unusable store exits 1, and HTTP serves /mcp and /healthz (with or without bearer
tokens) until SIGINT, then exits 0."""

from __future__ import annotations

import gc
import json
import os
import re
import signal
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import redis
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream
from anyio.streams.text import TextReceiveStream
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from typer.testing import CliRunner

from planexec.server import _serve_cli, app
from planexec.server._auth import create_api_key
from planexec.server._heap import freeze_startup_heap
from planexec.store import open_store

from ..store.redis_server import RedisServer
from .mcp_support import ARITHMETIC, ERAS, PLANEXEC, SLOW, body
from .test_mcp_sessions import session

pytestmark = pytest.mark.anyio

_ANNOUNCED = re.compile(r"serving MCP on (http://\S+/mcp)")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANEXEC_")}
    return {**env, "PLANEXEC_TENANT": "acme", "PLANEXEC_USER": "alice", **extra}


def _serve(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [PLANEXEC, "serve", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
        check=False,
        env=_env(),
    )


@pytest.mark.parametrize(
    "args",
    [
        ("--transport", "http", "--host", "0.0.0.0", "--insecure-no-auth"),
        ("--transport", "http", "--host", "192.168.1.10", "--insecure-no-auth"),
        ("--insecure-no-auth",),
        ("--tools", "nonsense"),
        ("--transport", "carrier-pigeon"),
        ("--store", "ftp://example.com/x"),
        ("--transport", "http", "--port", "70000"),
        ("--allow-upstream", "http://host/path"),
        ("--allow-upstream", "::1:80"),
        ("--config", "/nonexistent/planexec.yaml"),
        ("--session-ttl", "0"),
    ],
    ids=[
        "no-auth-on-any-address",
        "no-auth-on-a-lan-address",
        "no-auth-on-stdio",
        "bad-tools",
        "bad-transport",
        "bad-store",
        "bad-port",
        "allow-upstream-url",
        "allow-upstream-bare-ipv6",
        "missing-config",
        "zero-session-ttl",
    ],
)
def test_usage_errors_exit_2_before_serving_with_nothing_on_stdout(
    args: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in _env().items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["serve", *args])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""


@pytest.mark.parametrize(
    "jwt_env",
    [
        {"PLANEXEC_JWT_SECRET": "short"},
        {"PLANEXEC_JWT_AUDIENCE": "planexec"},
        {"PLANEXEC_JWT_LEEWAY_S": "soon"},
    ],
    ids=["short-secret", "audience-without-key", "leeway-not-a-number"],
)
def test_an_unusable_jwt_configuration_is_a_usage_error_over_http(
    jwt_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in _env(**jwt_env).items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["serve", "--transport", "http"])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""


@pytest.mark.parametrize(
    "text",
    [
        "policy: []",
        "policy: {tiers: [free], tools: [{match: x, tier: gold}]}",
        "tools: demo",
        "unknown_key: 1",
        "[1, 2]",
        "policy: {tenants: {acme: {trust: [sort-of]}}}",
    ],
    ids=["policy-not-mapping", "unknown-tier", "tools-not-list", "unknown-key", "not-mapping", "bad-trust"],
)
def test_a_bad_config_file_is_a_usage_error(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in _env().items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "planexec.yaml"
    config.write_text(text)
    result = CliRunner().invoke(app, ["serve", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and str(config) in result.stderr


def test_an_unreachable_configured_upstream_exits_1(tmp_path: Path) -> None:
    proc = _serve("--tools", "up=http://127.0.0.1:9/mcp", "--store", f"sqlite:///{tmp_path / 's.db'}")
    assert proc.returncode == 1 and proc.stdout == b""
    assert b"upstream 'up'" in proc.stderr and b"Traceback" not in proc.stderr


def test_a_store_that_cannot_open_exits_1(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = _serve("--store", f"sqlite:///{blocker / 'x.db'}")
    assert proc.returncode == 1
    assert proc.stdout == b""


@asynccontextmanager
async def _http(store_url: str, *args: str) -> AsyncIterator[tuple[str, Process]]:
    """``serve --transport http --port 0`` until the test is done; yields the announced
    URL and the process (SIGINT and exit code are the caller's to check)."""
    command = [PLANEXEC, "serve", "--transport", "http", "--port", "0", "--store", store_url]
    process = await anyio.open_process([*command, *args], env=_env(), stdin=subprocess.DEVNULL)
    try:
        assert process.stderr is not None
        seen = ""
        with anyio.fail_after(20):
            async for chunk in TextReceiveStream(process.stderr):
                seen += chunk
                if found := _ANNOUNCED.search(seen):
                    break
            else:
                raise AssertionError(f"the server did not announce itself: {seen}")
        yield found[1], process
    finally:
        if process.returncode is None:
            process.kill()
        await process.aclose()


async def _stop(process: Process) -> int:
    process.send_signal(signal.SIGINT)
    with anyio.fail_after(20):
        return await process.wait()


async def test_http_without_auth_serves_both_eras_and_healthz_until_sigint(tmp_path: Path) -> None:
    async with _http(f"sqlite:///{tmp_path / 's.db'}", "--insecure-no-auth") as (url, process):
        async with httpx2.AsyncClient(timeout=10) as http:
            health = await http.get(url.removesuffix("/mcp") + "/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        for era in ERAS:
            async with Client(url, mode=era) as mcp:
                assert "execute_plan" in {tool.name for tool in (await mcp.list_tools()).tools}
                assert (
                    body(await mcp.call_tool("execute_plan", {"plan": ARITHMETIC}))["status"] == "succeeded"
                )
        assert await _stop(process) == 0


async def test_http_demands_a_bearer_token_and_acts_for_its_tenant(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'k.db'}"
    async with open_store(store_url) as store:
        key, _ = await create_api_key(store, "globex", "bob")
    async with _http(store_url) as (url, process):
        async with httpx2.AsyncClient(timeout=10) as http:
            refused = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert refused.status_code == 401
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
            async with Client(streamable_http_client(url, http_client=http)) as mcp:  # type: ignore[arg-type]
                record = body(await mcp.call_tool("execute_plan", {"plan": ARITHMETIC}))
                (run,) = body(await mcp.call_tool("list_runs", {}))["runs"]
                assert run["run_id"] == record["run_id"] and run["user"] == "bob"
        assert await _stop(process) == 0
    async with open_store(store_url) as store:  # stored in the key's tenant, not the configured one
        assert (await store.get_run("globex", record["run_id"]))["status"] == "succeeded"
        assert await store.list_runs("acme") == []


async def test_stdio_stops_on_sigterm_and_stores_its_runs_as_cancelled(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 't.db'}"
    command = [PLANEXEC, "serve", "--store", store_url]
    async with await anyio.open_process(command, env=_env()) as process:
        assert process.stdin is not None and process.stdout is not None
        lines = BufferedByteReceiveStream(process.stdout)

        async def request(message: dict[str, Any]) -> dict[str, Any]:
            await process.stdin.send(json.dumps(message).encode() + b"\n")  # type: ignore[union-attr]
            if "id" not in message:
                return {}
            with anyio.fail_after(20):
                answer: dict[str, Any] = json.loads(await lines.receive_until(b"\n", 1 << 20))
            assert answer["id"] == message["id"], answer
            return answer

        init = {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        }
        await request({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init})
        await request({"jsonrpc": "2.0", "method": "notifications/initialized"})
        call = {"name": "execute_plan", "arguments": {"plan": SLOW, "wait": False}}
        started = await request({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call})
        run_id = started["result"]["structuredContent"]["run_id"]
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(20):
            assert await process.wait() == 0
    async with open_store(store_url) as store:
        assert (await store.get_run("acme", run_id))["status"] == "cancelled"


async def test_two_served_replicas_on_one_redis_tell_each_others_sessions_of_changes(
    redis_server: RedisServer,
) -> None:
    redis.Redis.from_url(redis_server.url).flushdb()
    flags = ("--insecure-no-auth", "--allow-upstream", "127.0.0.1:*")
    schema = {"type": "object", "properties": {"text": {"type": "string"}}}
    replica = redis_server.url, *flags
    async with _http(*replica) as (one, first), _http(*replica) as (two, second):
        async with session(two, "auto", "shared") as (listener, heard):
            async with session(one, "auto", "shared") as (changer, _):
                registered = {"name": "shout", "url": "http://127.0.0.1:9/x", "method": "POST"}
                body(await changer.call_tool("register_tool", {**registered, "input_schema": schema}))
            await heard.next()
            assert "shout" in {tool.name for tool in (await listener.list_tools()).tools}
        assert (await _stop(first), await _stop(second)) == (0, 0)


def test_serving_freezes_the_start_up_heap_once_the_catalog_is_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen: list[int] = []
    monkeypatch.setattr(_serve_cli, "freeze_startup_heap", lambda: frozen.append(len(frozen)) or 1)
    store = f"sqlite:///{tmp_path / 'h.db'}"
    result = CliRunner().invoke(app, ["serve", "--store", store], input="")  # stdin ends at once
    assert result.exit_code == 0, result.output
    assert frozen == [0]


def test_freezing_the_start_up_heap_leaves_it_to_the_permanent_generation() -> None:
    try:
        count = freeze_startup_heap()
        assert count == gc.get_freeze_count() > 0
        survivor = [object()]  # made after: the collector still sees it
        assert gc.is_tracked(survivor) and survivor in gc.get_objects()
    finally:
        gc.unfreeze()
