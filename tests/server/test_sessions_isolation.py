"""A property test of the session layer on a real SQLite store: random operations by two
tenants, two principals each and several sessions (register tools, list, call a cached
tool, end sessions) never let one see another's tools, sessions or cached results."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planexec.registry import (
    Catalog,
    MemoryCache,
    Policy,
    PythonToolSource,
    ResultCache,
    ToolAnnotations,
    ToolContext,
    tool,
)
from planexec.server._auth import Principal
from planexec.server._session_sources import AllowListedSources
from planexec.server._sessions import SessionKey, Sessions, principal_key
from planexec.store import NotFound, open_store

TENANTS = ["acme", "globex"]
USERS = ["alice", "bob"]
SESSIONS = ["s1", "s2", "default"]


@tool(annotations=ToolAnnotations(read_only=True), cache_ttl_s=600)
def whoami(label: str, ctx: ToolContext) -> dict[str, Any]:
    """A cached tool whose answer names the tenant that made it (through ``_meta``)."""
    return {"label": label, "tenant": ctx.run_id}


Op = tuple[str, int, int, int, int]
ops = st.lists(
    st.tuples(
        st.sampled_from(["register", "list", "call", "end"]),
        st.integers(0, len(TENANTS) - 1),
        st.integers(0, len(USERS) - 1),
        st.integers(0, len(SESSIONS) - 1),
        st.integers(0, 3),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_random_operations_never_leak_across_tenants_principals_or_sessions(operations: list[Op]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        anyio.run(_scenario, operations, Path(directory))


async def _scenario(operations: list[Op], directory: Path) -> None:
    base = Catalog([PythonToolSource("base", [whoami])])
    expected: dict[SessionKey, set[str]] = {}
    async with open_store(f"sqlite:///{directory / 's.db'}") as store, anyio.create_task_group() as tg:
        sessions = Sessions(
            store,
            base,
            tg,
            policy=Policy(),
            sources=AllowListedSources(["127.0.0.1:*"]),
            cache=ResultCache(MemoryCache()),
        )
        for kind, t, u, s, n in operations:
            principal = Principal(TENANTS[t], USERS[u], frozenset())
            key = SessionKey(principal.tenant, principal_key(principal), SESSIONS[s])
            live = await sessions.open(key)
            view = sessions.view(live, principal)
            mine = expected.setdefault(key, set())
            if kind == "register":
                name = f"t{t}u{u}s{s}_{n}"  # unique to the session: any leak shows
                endpoint = {"name": name, "url": f"http://127.0.0.1:9/{name}", "method": "POST"}
                await sessions.register_tool(live, {**endpoint, "input_schema": {"type": "object"}})
                mine.add(name)
            elif kind == "list":
                assert {spec.name for spec in view.specs()} == {"whoami"} | mine
            elif kind == "call":
                meta = {"planexec/run_id": principal.tenant}
                result = await view.call("whoami", {"label": str(n)}, meta)
                assert result.structured_content == {"label": str(n), "tenant": principal.tenant}
            else:  # end: the stored session goes; the live one resyncs to an empty one
                await store.delete_session(key.tenant, key.principal, key.session_id)
                expected[key] = set()
                assert not (await sessions.open(key)).endpoints()
            for index, other in enumerate(TENANTS):  # a tenant reads only its own sessions
                try:
                    entry = await store.get_session(other, key.principal, key.session_id)
                except NotFound:
                    continue
                names = [endpoint["name"] for endpoint in entry.data.get("http_tools") or []]
                assert all(name.startswith(f"t{index}u") for name in names), (other, names)
        for key, names in expected.items():
            principal = Principal(key.tenant, key.principal.removeprefix("user:"), frozenset())
            view = sessions.view(await sessions.open(key), principal)
            assert {spec.name for spec in view.specs()} == {"whoami"} | names
        sessions.close_all()
        tg.cancel_scope.cancel()


async def _idle_scenario(directory: Path) -> None:
    now = [0.0]
    async with open_store(f"sqlite:///{directory / 's.db'}") as store, anyio.create_task_group() as tg:
        sessions = Sessions(
            store,
            Catalog([PythonToolSource("base", [whoami])]),
            tg,
            policy=Policy(),
            sources=AllowListedSources(["127.0.0.1:*"]),
            ttl_s=100,
            clock=lambda: now[0],
        )
        idle = await sessions.open(SessionKey("acme", "user:alice", "s1"))
        endpoint = {"name": "hook", "url": "http://127.0.0.1:9/hook", "input_schema": {"type": "object"}}
        await sessions.register_tool(idle, endpoint)
        assert list(idle.keepers) == ["http"]
        now[0] = 50.0
        await sessions.open(SessionKey("acme", "user:bob", "s1"))
        assert list(idle.keepers) == ["http"]  # not idle for a TTL yet
        now[0] = 200.0
        await sessions.open(SessionKey("acme", "user:bob", "s1"))
        assert idle.keepers == {}  # let go: its connections are closed
        sessions.close_all()
        tg.cancel_scope.cancel()


def test_live_sessions_idle_past_the_ttl_are_let_go() -> None:
    with tempfile.TemporaryDirectory() as directory:
        anyio.run(_idle_scenario, Path(directory))


async def _replica_scenario(directory: Path) -> None:
    key = SessionKey("acme", "user:alice", "s1")
    schema = {"type": "object"}
    async with open_store(f"sqlite:///{directory / 's.db'}") as store, anyio.create_task_group() as tg:

        def replica() -> Sessions:
            base = Catalog([PythonToolSource("base", [whoami])])
            return Sessions(store, base, tg, policy=Policy(), sources=AllowListedSources(["127.0.0.1:*"]))

        one, two = replica(), replica()
        hook = {"name": "hook", "url": "http://127.0.0.1:9/a", "input_schema": schema}
        await one.register_tool(await one.open(key), hook)
        seen = await two.open(key)
        first = seen.keepers["http"][0]

        # another change that leaves the endpoints as they were: the open source stays
        entry = await store.get_session("acme", key.principal, key.session_id)
        data = {**entry.data, "revision": entry.data["revision"] + 1}
        await store.put_session("acme", entry.model_copy(update={"data": data}))
        assert (await two.open(key)).keepers["http"][0] is first

        # the endpoint re-pointed on the first replica: the second makes its source anew
        await one.register_tool(await one.open(key), {**hook, "url": "http://127.0.0.1:9/b"})
        again = (await two.open(key)).keepers["http"]
        assert again[0] is not first and again[2] == [{**hook, "url": "http://127.0.0.1:9/b"}]
        for sessions in (one, two):
            sessions.close_all()
        tg.cancel_scope.cancel()


def test_a_replica_reopens_a_source_only_when_its_stored_data_changed() -> None:
    with tempfile.TemporaryDirectory() as directory:
        anyio.run(_replica_scenario, Path(directory))
