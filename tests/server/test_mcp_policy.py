"""The tenant policy and the result cache through the real server (HTTP, JWTs, both eras):
a lower-tier principal never lists, calls, validates or runs a higher-tier tool; a
scope-guarded tool needs its scope; a deny-listed tool is gone for that tenant; cached
results are shared within a tenant and never across tenants."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from planexec.registry import (
    Catalog,
    Policy,
    PythonToolSource,
    ToolAnnotations,
    ToolContext,
    demo_source,
    tool,
)
from planexec.server._auth import JwtConfig, PlanexecTokenVerifier
from planexec.server._mcp_services import token_identity

from .mcp_support import ERAS, body, error, http_server, services

pytestmark = pytest.mark.anyio

SECRET = "a-policy-test-secret-of-32-bytes-or-more!"

POLICY = Policy.parse(
    """
tiers: [free, pro]
tools:
  - {match: "ledger_*", tier: pro}
  - {match: "fail", scopes: [danger]}
tenants:
  acme: {tier: free, users: {bob: pro}}
  globex: {tier: pro, deny: ["multiply"]}
"""
)

CALLS: list[tuple[str, int]] = []


@tool(annotations=ToolAnnotations(read_only=True), cache_ttl_s=60)
def lookup(key: int) -> dict[str, Any]:
    """A read-only lookup whose result is cached for a minute."""
    CALLS.append(("lookup", key))
    return {"key": key, "calls": len(CALLS)}


def context(ctx: ToolContext) -> dict[str, Any]:
    """The call's _meta as a Python tool sees it."""
    return {"run_id": ctx.run_id, "attempt": ctx.attempt, "idempotency_key": ctx.idempotency_key}


def _jwt(tenant: str, sub: str, scope: str = "") -> str:
    claims = {"sub": sub, "tenant": tenant, "exp": int(time.time()) + 300, "scope": scope}
    return jwt.encode(claims, SECRET, algorithm="HS256")


@pytest.fixture
async def url(tmp_path: Path) -> AsyncIterator[str]:
    CALLS.clear()
    served = replace(
        services(f"sqlite:///{tmp_path / 'policy.db'}", principal_of=token_identity),
        catalog=Catalog([demo_source(), PythonToolSource("lookups", [lookup, context])]),
        policy=POLICY,
    )
    verifier = PlanexecTokenVerifier(served.store, JwtConfig(secret=SECRET))
    async with http_server(served, token_verifier=verifier) as mcp_url:
        yield mcp_url


@asynccontextmanager
async def connect(url: str, token: str, era: str) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=era) as client:  # type: ignore[arg-type]
            yield client


async def _names(client: Client) -> set[str]:
    return {t.name for t in (await client.list_tools()).tools}


LEDGER_PLAN: dict[str, Any] = {
    "tasks": {"w": {"tool_name": "ledger_write", "parameters": {"key": "k", "value": 1}, "dependencies": []}}
}


@pytest.mark.parametrize("era", ERAS)
async def test_lower_tier_never_lists_calls_validates_or_runs_a_higher_tier_tool(url: str, era: str) -> None:
    async with connect(url, _jwt("acme", "alice"), era) as alice:
        names = await _names(alice)
        assert "add" in names and "ledger_read" not in names and "ledger_write" not in names
        denied = error(await alice.call_tool("ledger_write", {"key": "k", "value": 1}))
        assert (denied["code"], denied["detail"]["reason"]) == ("tool_not_permitted", "tier")
        checked = body(await alice.call_tool("validate_plan", {"plan": LEDGER_PLAN}))
        assert [e["code"] for e in checked["errors"]] == ["tool_not_permitted"]
        refused = error(await alice.call_tool("execute_plan", {"plan": LEDGER_PLAN}))
        assert refused["code"] == "invalid_plan"
        assert [e["code"] for e in refused["errors"]] == ["tool_not_permitted"]

    async with connect(url, _jwt("acme", "bob"), era) as bob:
        assert {"ledger_read", "ledger_write"} <= await _names(bob)
        assert not (await bob.call_tool("ledger_write", {"key": "k", "value": 1})).is_error
        assert body(await bob.call_tool("execute_plan", {"plan": LEDGER_PLAN}))["status"] == "succeeded"


@pytest.mark.parametrize("era", ERAS)
async def test_a_scope_guarded_tool_needs_its_scope_and_a_denied_tool_is_gone(url: str, era: str) -> None:
    async with connect(url, _jwt("acme", "bob"), era) as without:
        assert "fail" not in await _names(without)
        assert error(await without.call_tool("fail", {"message": "x"}))["detail"]["reason"] == "scope"
    async with connect(url, _jwt("acme", "bob", "danger"), era) as scoped:
        assert "fail" in await _names(scoped)
        assert error(await scoped.call_tool("fail", {"message": "x"}))["code"] == "tool_error"
    async with connect(url, _jwt("globex", "carol"), era) as globex:
        names = await _names(globex)
        assert "multiply" not in names and "ledger_write" in names
        denied = error(await globex.call_tool("multiply", {"a": 1, "b": 2}))
        assert denied["detail"]["reason"] == "not_allowed"


@pytest.mark.parametrize("era", ERAS)
async def test_cached_results_are_shared_within_a_tenant_never_across(url: str, era: str) -> None:
    alice_token, bob_token = _jwt("acme", "alice"), _jwt("acme", "bob")
    async with connect(url, alice_token, era) as alice, connect(url, bob_token, era) as bob:
        first = body(await alice.call_tool("lookup", {"key": 7}))
        assert body(await bob.call_tool("lookup", {"key": 7})) == first  # same tenant: a hit
        assert CALLS == [("lookup", 7)]
        plan = {"tasks": {"l": {"tool_name": "lookup", "parameters": {"key": 7}, "dependencies": []}}}
        record = body(await alice.call_tool("execute_plan", {"plan": plan}))
        assert record["tasks"]["l"]["output"] == first and CALLS == [("lookup", 7)]
        assert record["tasks"]["l"]["attempts"][0]["cache"] == "hit"  # visible in the run record
    async with connect(url, _jwt("globex", "carol"), era) as carol:
        other = body(await carol.call_tool("lookup", {"key": 7}))
        assert other != first and CALLS == [("lookup", 7), ("lookup", 7)]


@pytest.mark.parametrize("era", ERAS)
async def test_planexec_meta_reaches_tools_with_the_idempotency_key_qualified_by_tenant(
    url: str, era: str
) -> None:
    meta = {"planexec/run_id": "run-1", "planexec/attempt": 2, "planexec/idempotency_key": "run-1:t"}
    for tenant in ("acme", "globex"):
        async with connect(url, _jwt(tenant, "carol"), era) as client:
            seen = body(await client.call_tool("context", {}, meta=meta))  # type: ignore[arg-type]
            assert seen == {"run_id": "run-1", "attempt": 2, "idempotency_key": f"{tenant}/run-1:t"}
