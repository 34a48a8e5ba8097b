"""Streamable HTTP specifics: /healthz, the binding rule for unauthenticated serving, and
the bearer-token principal reaching the tools in both eras (tenants from API keys)."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from planexec.server._auth import PlanexecTokenVerifier, create_api_key
from planexec.server._mcp_http import InsecureBinding, check_binding, is_loopback
from planexec.server._mcp_services import token_identity
from planexec.store import open_store

from .mcp_support import ARITHMETIC, ERAS, body, error, http_server, services

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.com", False),
    ],
)
def test_only_loopback_hosts_may_serve_without_auth(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    check_binding(host, authenticated=True)
    if loopback:
        check_binding(host, authenticated=False)
    else:
        with pytest.raises(InsecureBinding):
            check_binding(host, authenticated=False)


async def test_healthz_answers_without_a_token(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'h.db'}"
    served = services(store_url, principal_of=token_identity)
    async with http_server(served, token_verifier=PlanexecTokenVerifier(served.store)) as url:
        async with httpx2.AsyncClient(timeout=10) as http:
            health = await http.get(url.removesuffix("/mcp") + "/healthz")
            refused = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert refused.status_code == 401


def _bearer(url: str, key: str, era: str) -> tuple[httpx2.AsyncClient, Client]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30)
    return http, Client(streamable_http_client(url, http_client=http), mode=era)  # type: ignore[arg-type]


@pytest.mark.parametrize("era", ERAS)
async def test_each_bearer_token_acts_for_its_own_tenant(era: str, tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'a.db'}"
    async with open_store(store_url) as keys:
        acme_key, _ = await create_api_key(keys, "acme", "alice")
        globex_key, _ = await create_api_key(keys, "globex", "bob")
    served = services(store_url, principal_of=token_identity)
    async with http_server(served, token_verifier=PlanexecTokenVerifier(served.store)) as url:
        http, acme = _bearer(url, acme_key, era)
        async with http, acme:
            record = body(await acme.call_tool("execute_plan", {"plan": ARITHMETIC}))
            assert record["status"] == "succeeded"
            (mine,) = body(await acme.call_tool("list_runs", {}))["runs"]
            assert mine["run_id"] == record["run_id"] and mine["user"] == "alice"
        http, globex = _bearer(url, globex_key, era)
        async with http, globex:
            assert (
                error(await globex.call_tool("get_run", {"run_id": record["run_id"]}))["code"] == "not_found"
            )
            assert body(await globex.call_tool("list_runs", {}))["runs"] == []
