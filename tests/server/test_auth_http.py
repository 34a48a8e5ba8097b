"""The verifier behind the SDK's bearer auth, over real HTTP (uvicorn on loopback): missing,
wrong, revoked and expired tokens get 401 with ``WWW-Authenticate``; valid API keys and
JWTs reach the MCP endpoint in both protocol eras and carry their principal; a store that
cannot answer is a 503, not a 401."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import jwt
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette

from planexec.server._auth import (
    JwtConfig,
    PlanexecTokenVerifier,
    StoreUnavailableMiddleware,
    create_api_key,
    principal_from_token,
    revoke_api_key,
)
from planexec.store import ApiKeyEntry, Store, StoreUnavailable, open_store

pytestmark = pytest.mark.anyio

SECRET = "an-http-test-secret-of-at-least-32-bytes"


class _Uvicorn(uvicorn.Server):
    """uvicorn that tells when it listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = anyio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()


@asynccontextmanager
async def serving(verifier: PlanexecTokenVerifier) -> AsyncIterator[str]:
    """An MCP server with one tool, ``whoami``, behind bearer auth with ``verifier``, on a
    free loopback port; yields its MCP URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    mcp = MCPServer(
        "auth-test",
        token_verifier=verifier,
        auth=AuthSettings(
            issuer_url="https://idp.example",  # type: ignore[arg-type]
            resource_server_url=url,  # type: ignore[arg-type]
            validate_token_resource=False,
        ),
    )

    @mcp.tool()
    def whoami() -> dict[str, Any]:
        token = get_access_token()
        assert token is not None
        principal = principal_from_token(token)
        return {"tenant": principal.tenant, "user": principal.user, "scopes": sorted(principal.scopes)}

    app: Starlette = mcp.streamable_http_app()
    app.add_middleware(StoreUnavailableMiddleware)
    server = _Uvicorn(uvicorn.Config(app, log_level="warning", ws="none", http="h11", lifespan="on"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [sock])
        with anyio.fail_after(10):
            await server.listening.wait()
        try:
            yield url
        finally:
            server.should_exit = True


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path / 'http.db'}") as opened:
        yield opened


@pytest.fixture
async def url(store: Store) -> AsyncIterator[str]:
    async with serving(PlanexecTokenVerifier(store, JwtConfig(secret=SECRET))) as served:
        yield served


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "auth-test", "version": "0"},
    },
}


async def _post(url: str, authorization: str | None) -> httpx2.Response:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    async with httpx2.AsyncClient(timeout=10) as client:
        return await client.post(url, json=INITIALIZE, headers=headers)


def _jwt(**overrides: Any) -> str:
    now = int(time.time())
    claims = {"sub": "carol", "tenant": "acme", "exp": now + 300, "scope": "runs:read", **overrides}
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, SECRET, algorithm="HS256")


async def _refusals(store: Store) -> dict[str, str | None]:
    good, _ = await create_api_key(store, "acme", "alice")
    revoked, entry = await create_api_key(store, "acme", "alice")
    await revoke_api_key(store, "acme", entry.key_id)
    return {
        "missing": None,
        "bare-bearer": "Bearer",
        "basic-scheme": "Basic YWxpY2U6c2VjcmV0",
        "wrong-key": f"Bearer {good[:-1]}{'A' if good[-1] != 'A' else 'B'}",
        "unknown-key": "Bearer pxk_abcdefghijklmnop_" + "s" * 43,
        "revoked-key": f"Bearer {revoked}",
        "expired-jwt": f"Bearer {_jwt(exp=int(time.time()) - 120)}",
        "jwt-without-tenant": f"Bearer {_jwt(tenant=None)}",
        "jwt-wrong-secret": "Bearer "
        + jwt.encode(
            {"sub": "x", "tenant": "acme", "exp": int(time.time()) + 60}, "x" * 40, algorithm="HS256"
        ),
        "garbage": "Bearer not-a-token",
    }


async def test_refused_tokens_get_401_with_www_authenticate(store: Store, url: str) -> None:
    for name, authorization in (await _refusals(store)).items():
        response = await _post(url, authorization)
        assert response.status_code == 401, name
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith("Bearer "), name
        assert "resource_metadata=" in challenge, name
        assert response.json()["error"] == "invalid_token", name


async def test_valid_key_and_jwt_reach_the_endpoint(store: Store, url: str) -> None:
    key, _ = await create_api_key(store, "acme", "alice")
    for token in (key, _jwt()):
        response = await _post(url, f"Bearer {token}")
        assert response.status_code == 200
        [data] = [line for line in response.text.splitlines() if line.startswith("data: ")]
        assert json.loads(data.removeprefix("data: "))["result"]["serverInfo"]["name"] == "auth-test"


@asynccontextmanager
async def _client(url: str, token: str, mode: str) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=mode) as client:  # type: ignore[arg-type]
            yield client


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_principal_reaches_tools_in_both_eras(store: Store, url: str, mode: str) -> None:
    key, _ = await create_api_key(store, "acme", "alice", ["runs:read", "runs:write"])
    cases = [
        (key, {"tenant": "acme", "user": "alice", "scopes": ["runs:read", "runs:write"]}),
        (_jwt(tenant="globex"), {"tenant": "globex", "user": "carol", "scopes": ["runs:read"]}),
    ]
    for token, expected in cases:
        async with _client(url, token, mode) as client:
            result = await client.call_tool("whoami", {})
        assert not result.is_error
        assert result.structured_content == expected


class _LostStore:
    """A store whose identity lookup finds the backend gone."""

    async def get_api_key(self, key_id: str) -> ApiKeyEntry:
        raise StoreUnavailable("connection refused")


async def test_a_lost_store_is_503_with_retry_after_not_401() -> None:
    verifier = PlanexecTokenVerifier(_LostStore())  # type: ignore[arg-type]
    async with serving(verifier) as served:
        response = await _post(served, "Bearer pxk_abcdefghijklmnop_" + "s" * 43)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert response.json()["error"] == "temporarily_unavailable"
        assert (await _post(served, None)).status_code == 401  # no token: no store lookup


async def test_verifier_raises_store_unavailable_rather_than_refusing() -> None:
    verifier = PlanexecTokenVerifier(_LostStore())  # type: ignore[arg-type]
    with pytest.raises(StoreUnavailable):
        await verifier.verify_token("pxk_abcdefghijklmnop_" + "s" * 43)
    assert await verifier.verify_token("pxk_malformed") is None  # refused before any lookup
