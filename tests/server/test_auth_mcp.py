"""planexec's own HTTP app (``_mcp_http.http_app``) behind bearer auth, with the SDK's
Client in both protocol eras: a token's tenant is all it sees (tenant B's key cannot read
tenant A's runs or plans: NotFound), and missing, wrong, revoked and expired tokens are
refused with 401 while ``/healthz`` stays open."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from planexec.server._auth import JwtConfig, PlanexecTokenVerifier, create_api_key, revoke_api_key
from planexec.server._mcp_services import token_identity
from planexec.store import ApiKeyEntry, StoreUnavailable, open_store

from .mcp_support import ARITHMETIC, ERAS, body, error, http_server, services

pytestmark = pytest.mark.anyio

SECRET = "an-mcp-auth-test-secret-of-32-bytes-or-more"


def _jwt(tenant: str, sub: str, exp_in: int = 300) -> str:
    claims = {"sub": sub, "tenant": tenant, "exp": int(time.time()) + exp_in}
    return jwt.encode(claims, SECRET, algorithm="HS256")


@dataclass
class Served:
    url: str
    acme: str  # alice's API key in tenant acme
    globex: str  # bob's API key in tenant globex
    revoked: str  # a revoked acme key


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    async with open_store(url) as store:
        acme, _ = await create_api_key(store, "acme", "alice")
        globex, _ = await create_api_key(store, "globex", "bob")
        revoked, entry = await create_api_key(store, "acme", "alice")
        await revoke_api_key(store, "acme", entry.key_id)
    app_services = services(url, principal_of=token_identity)
    verifier = PlanexecTokenVerifier(app_services.store, JwtConfig(secret=SECRET))
    async with http_server(app_services, token_verifier=verifier) as mcp_url:
        yield Served(mcp_url, acme, globex, revoked)


@asynccontextmanager
async def connect(url: str, token: str, era: str) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=era) as client:  # type: ignore[arg-type]
            yield client


async def _not_found(client: Client, uri: str) -> Any:
    with pytest.raises(MCPError) as caught:
        await client.read_resource(uri)
    assert caught.value.code == INVALID_PARAMS
    return caught.value.data["code"]


@pytest.mark.parametrize("era", ERAS)
async def test_another_tenant_cannot_read_a_run_or_plan_by_id(served: Served, era: str) -> None:
    async with connect(served.url, served.acme, era) as alice:
        record = body(await alice.call_tool("execute_plan", {"plan": ARITHMETIC}))
        run_id, plan_id = record["run_id"], record["plan_id"]
        assert record["status"] == "succeeded"
        assert body(await alice.call_tool("get_run", {"run_id": run_id}))["run_id"] == run_id

    for token in (served.globex, _jwt("globex", "carol")):
        async with connect(served.url, token, era) as other:
            assert error(await other.call_tool("get_run", {"run_id": run_id}))["code"] == "not_found"
            assert error(await other.call_tool("execute_plan", {"plan_id": plan_id}))["code"] == "not_found"
            assert body(await other.call_tool("list_runs", {}))["runs"] == []
            assert await _not_found(other, f"planexec://runs/{run_id}") == "not_found"
            assert await _not_found(other, f"planexec://runs/{run_id}/graph") == "not_found"
            assert await _not_found(other, f"planexec://plans/{plan_id}") == "not_found"

    async with connect(served.url, _jwt("acme", "dave"), era) as same_tenant:  # a JWT of tenant acme
        assert body(await same_tenant.call_tool("get_run", {"run_id": run_id}))["status"] == "succeeded"
        runs = body(await same_tenant.call_tool("list_runs", {}))["runs"]
        assert [run["run_id"] for run in runs] == [run_id]


async def _post_initialize(url: str, authorization: str | None) -> httpx2.Response:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        },
    }
    async with httpx2.AsyncClient(timeout=10) as http:
        return await http.post(url, json=message, headers=headers)


async def test_missing_wrong_revoked_and_expired_tokens_get_401(served: Served) -> None:
    wrong = served.acme[:-1] + ("A" if served.acme[-1] != "A" else "B")
    refused = {
        "missing": None,
        "wrong": f"Bearer {wrong}",
        "revoked": f"Bearer {served.revoked}",
        "expired": f"Bearer {_jwt('acme', 'alice', exp_in=-120)}",
        "not-bearer": f"Token {served.acme}",
    }
    for name, authorization in refused.items():
        response = await _post_initialize(served.url, authorization)
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"].startswith("Bearer "), name
    assert (await _post_initialize(served.url, f"Bearer {served.acme}")).status_code == 200
    async with httpx2.AsyncClient(timeout=10) as http:
        health = await http.get(served.url.removesuffix("/mcp") + "/healthz")
    assert health.status_code == 200


@pytest.mark.parametrize("era", ERAS)
async def test_the_sdk_client_fails_to_connect_with_a_revoked_key(served: Served, era: str) -> None:
    """The SDK reports the 401 as an internal-error MCPError (inside its task groups)."""
    with pytest.raises(ExceptionGroup) as caught:
        async with connect(served.url, served.revoked, era) as client:
            await client.list_tools()
    assert caught.group_contains(MCPError, depth=2)


class _LostStore:
    """A store whose identity lookup finds the backend gone."""

    async def get_api_key(self, key_id: str) -> ApiKeyEntry:
        raise StoreUnavailable("connection refused")


async def test_a_store_lost_during_verification_is_503_with_retry_after(tmp_path: Path) -> None:
    app_services = services(f"sqlite:///{tmp_path / 'auth.db'}", principal_of=token_identity)
    verifier = PlanexecTokenVerifier(_LostStore())  # type: ignore[arg-type]
    async with http_server(app_services, token_verifier=verifier) as url:
        response = await _post_initialize(url, "Bearer pxk_abcdefghijklmnop_" + "s" * 43)
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["error"] == "temporarily_unavailable"
