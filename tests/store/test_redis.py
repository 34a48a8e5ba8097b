"""What the Redis backend promises beyond the shared contract: each tenant's keys carry its
hash tag and no crafted name reaches another's; sessions expire in Redis itself; a lost
server is a quick StoreUnavailable, loses nothing acknowledged, and the same store object
serves again once the server is back on the same data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta

import anyio
import pytest
import redis
from redis.crc import key_slot

from planexec.store import (
    ApiKeyEntry,
    AuditEntry,
    NotFound,
    SessionEntry,
    Store,
    StoreUnavailable,
    open_store,
)
from planexec.store._models import attempts_of
from planexec.store._redis import RedisStore
from planexec.store._redis_keys import TenantKeys, encode

from .redis_server import RedisServer
from .samples import event, plan, run_record

pytestmark = pytest.mark.anyio

# How long a call may take to give up on a dead or stalled server (the store's own
# timeouts are a few seconds; these tests use the defaults unless they say otherwise).
GIVE_UP_S = 3.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A plain client on the session's server, to look at the keys the store wrote."""
    with redis.Redis.from_url(redis_server.url, decode_responses=True) as plain:
        yield plain


def hash_tag(key: str) -> str | None:
    """What Redis Cluster hashes: between the first ``{`` and the next ``}``, if not empty."""
    start = key.find("{")
    end = key.find("}", start + 1)
    if start == -1 or end == -1 or end == start + 1:
        return None
    return key[start + 1 : end]


def hour_from_now() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


async def fill(store: Store, tenant: str, *, user: str = "alice") -> None:
    """One item of every kind for ``tenant``."""
    now = datetime.now(UTC)
    await store.save_plan(tenant, plan("p1", user=user))
    await store.save_run(tenant, run_record("r1"), user=user)
    await store.add_events(tenant, "r1", [event("r1", 1), event("r1", 2)])
    await store.put_session(
        tenant, SessionEntry(session_id="s1", principal=user, created_at=now, expires_at=hour_from_now())
    )
    await store.add_api_key(
        ApiKeyEntry(key_id=f"key-of-{tenant}", tenant=tenant, user=user, key_hash="h", created_at=now)
    )
    await store.add_audit(tenant, [AuditEntry(at=now, user=user, action="tool_call", tool="echo")])


# key layout
async def test_every_key_of_a_tenant_carries_its_hash_tag_and_one_slot(
    redis_store: Store, client: redis.Redis
) -> None:
    tenants = ["acme", "globex"]
    for tenant in tenants:
        await fill(redis_store, tenant)
    keys: set[str] = set(client.scan_iter("*"))
    spaces = {tenant: set(client.scan_iter(f"{TenantKeys(tenant).prefix}*")) for tenant in tenants}

    assert spaces["acme"] and spaces["globex"]
    assert spaces["acme"].isdisjoint(spaces["globex"])
    for tenant, space in spaces.items():
        assert {hash_tag(key) for key in space} == {f"t:{tenant}"}
        assert len({key_slot(key.encode()) for key in space}) == 1
    # Only the identity lookup by key id lives outside the tenants' spaces.
    assert keys - spaces["acme"] - spaces["globex"] == {
        "planexec:apikey:key-of-acme",
        "planexec:apikey:key-of-globex",
    }


async def test_crafted_tenants_and_ids_do_not_reach_each_others_keys(
    redis_store: Store, client: redis.Redis
) -> None:
    tenants = ["a", "a}", "{t:a}", "a}:run:x", "a%7D", "a:", ""]
    run_ids = ["x", "x:attempts", "x:events", "{x}", "x%3Aattempts"]
    for tenant in tenants:
        for run_id in run_ids:
            await redis_store.save_run(tenant, run_record(run_id, plan_id=f"{tenant}|{run_id}"), user="u:v")
            await redis_store.add_events(tenant, run_id, [event(run_id, 1, task_id=f"{tenant}|{run_id}")])
        # (principal, session id) pairs that would join into the same text
        for principal, session_id in [("p:q", "r"), ("p", "q:r")]:
            marker = {"owner": f"{tenant}|{principal}|{session_id}"}
            entry = SessionEntry(
                session_id=session_id,
                principal=principal,
                data=marker,
                created_at=datetime.now(UTC),
                expires_at=hour_from_now(),
            )
            await redis_store.put_session(tenant, entry)

    for tenant in tenants:
        assert sorted(s.run_id for s in await redis_store.list_runs(tenant)) == sorted(run_ids)
        for run_id in run_ids:
            assert (await redis_store.get_run(tenant, run_id))["plan_id"] == f"{tenant}|{run_id}"
            [only] = await redis_store.list_events(tenant, run_id)
            assert only["task_id"] == f"{tenant}|{run_id}"
            assert {a.run_id for a in await redis_store.list_attempts(tenant, run_id)} == {run_id}
        for principal, session_id in [("p:q", "r"), ("p", "q:r")]:
            found = await redis_store.get_session(tenant, principal, session_id)
            assert found.data == {"owner": f"{tenant}|{principal}|{session_id}"}

    # Every key names exactly one of the tenants in its hash tag: none is shared.
    tags = {hash_tag(key) for key in client.scan_iter("*")}
    assert tags == {f"t:{encode(tenant)}" for tenant in tenants}


async def test_an_unknown_tenant_sees_nothing_of_a_crafted_neighbour(redis_store: Store) -> None:
    await fill(redis_store, "a}:x")
    for tenant in ["a", "a}", "{t:a}:x", "a%7D:x"]:
        assert await redis_store.list_runs(tenant) == []
        assert await redis_store.list_plans(tenant) == []
        with pytest.raises(NotFound):
            await redis_store.get_run(tenant, "r1")


# indexes
async def test_saving_a_run_again_moves_it_between_status_and_user_indexes(
    redis_store: Store, client: redis.Redis
) -> None:
    await redis_store.save_run("acme", run_record("r1", status="running"), user="alice")
    await redis_store.save_run("acme", run_record("r1", status="failed"), user="bob")
    await redis_store.save_run("acme", run_record("r1", status="succeeded"))  # keeps bob

    assert await redis_store.list_runs("acme", status="running") == []
    assert await redis_store.list_runs("acme", status="failed") == []
    assert [s.user for s in await redis_store.list_runs("acme", status="succeeded")] == ["bob"]
    assert (await redis_store.export_user("acme", "alice"))["runs"] == []
    assert [r["record"]["status"] for r in (await redis_store.export_user("acme", "bob"))["runs"]] == [
        "succeeded"
    ]
    keys = TenantKeys("acme")
    assert client.exists(keys.runs_by_status("running"), keys.user("alice", "runs")) == 0
    assert await redis_store.erase_user("acme", "alice") == {
        "plans": 0,
        "runs": 0,
        "sessions": 0,
        "api_keys": 0,
        "audit": 0,
    }
    assert [s.run_id for s in await redis_store.list_runs("acme")] == ["r1"]


async def test_saving_a_plan_again_under_another_user_moves_it(redis_store: Store) -> None:
    await redis_store.save_plan("acme", plan("p1", user="alice"))
    await redis_store.save_plan("acme", plan("p1", user=None))
    assert (await redis_store.export_user("acme", "alice"))["plans"] == []
    assert (await redis_store.erase_user("acme", "alice"))["plans"] == 0
    assert [p.plan_id for p in await redis_store.list_plans("acme")] == ["p1"]


# time to live
async def test_a_session_expires_in_redis_at_its_expires_at(redis_store: Store, client: redis.Redis) -> None:
    expires = hour_from_now()
    entry = SessionEntry(session_id="s1", principal="alice", created_at=datetime.now(UTC), expires_at=expires)
    await redis_store.put_session("acme", entry)

    key = TenantKeys("acme").session("alice", "s1")
    assert client.pttl(key) > 0
    assert client.pexpiretime(key) == (expires - EPOCH) // timedelta(milliseconds=1)
    # the (tenant, user) index of sessions does not outlive them either
    assert client.pexpiretime(TenantKeys("acme").user("alice", "sessions")) == client.pexpiretime(key)


async def test_a_session_redis_has_dropped_is_not_found(redis_store: Store, client: redis.Redis) -> None:
    entry = SessionEntry(
        session_id="s1", principal="alice", created_at=datetime.now(UTC), expires_at=hour_from_now()
    )
    await redis_store.put_session("acme", entry)
    client.pexpireat(TenantKeys("acme").session("alice", "s1"), 1)  # long past: Redis drops it now
    with pytest.raises(NotFound):
        await redis_store.get_session("acme", "alice", "s1")


async def test_a_session_past_expires_at_is_not_found_while_redis_still_holds_it(
    redis_store: Store, client: redis.Redis
) -> None:
    now = datetime.now(UTC)
    stale = SessionEntry(
        session_id="s1", principal="alice", created_at=now, expires_at=now - timedelta(seconds=1)
    )
    client.set(TenantKeys("acme").session("alice", "s1"), stale.model_dump_json())  # no TTL at all
    with pytest.raises(NotFound):
        await redis_store.get_session("acme", "alice", "s1")


async def test_plans_runs_and_events_have_no_ttl_by_default(redis_store: Store, client: redis.Redis) -> None:
    await fill(redis_store, "acme")
    keys = TenantKeys("acme")
    for key in [
        keys.plan("p1"),
        keys.run("r1"),
        keys.events("r1"),
        keys.runs,
        keys.audit,
    ]:
        assert client.pttl(key) == -1, key


async def test_attempts_are_read_from_the_record_and_an_old_attempts_key_goes(
    redis_store: Store, client: redis.Redis
) -> None:
    keys = TenantKeys("acme")
    client.set(keys.attempts("r1"), "[]")  # what an older planexec wrote beside the record
    await redis_store.save_run("acme", run_record("r1"))
    assert client.exists(keys.attempts("r1")) == 0
    assert await redis_store.list_attempts("acme", "r1") == attempts_of(run_record("r1")) != []


async def test_a_retention_expires_plans_runs_and_events(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    client.flushdb()
    async with RedisStore(redis_server.url, retention=timedelta(days=7)) as store:
        await fill(store, "acme")
    keys = TenantKeys("acme")
    week_ms = 7 * 24 * 3600 * 1000
    for key in [keys.plan("p1"), keys.run("r1"), keys.events("r1"), keys.runs]:
        assert 0 < client.pttl(key) <= week_ms, key


async def test_a_run_gone_by_retention_leaves_the_listing(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    client.flushdb()
    keys = TenantKeys("acme")
    async with RedisStore(redis_server.url, retention=timedelta(days=7)) as store:
        await store.save_run("acme", run_record("r1", started=1))
        await store.save_run("acme", run_record("r2", started=2))
        client.delete(keys.run("r2"), keys.attempts("r2"))  # what Redis does when the TTL runs out
        assert [s.run_id for s in await store.list_runs("acme")] == ["r1"]
        assert client.zrange(keys.runs, 0, -1) == ["r1"]


# losing the server
async def test_killing_redis_mid_writes_fails_fast_loses_nothing_and_recovers(
    durable_redis: RedisServer,
) -> None:
    run_ids = ["r1", "r2", "r3"]
    acknowledged: dict[str, list[int]] = {run_id: [] for run_id in run_ids}
    errors: list[StoreUnavailable] = []
    all_failed = anyio.Event()
    enough = anyio.Event()

    async with RedisStore(durable_redis.url) as store:
        for run_id in run_ids:
            await store.save_run("acme", run_record(run_id, status="running", finished=None), user="alice")

        async def write(run_id: str) -> None:
            seq = 0
            try:
                while True:
                    seq += 1
                    await store.add_events("acme", run_id, [event(run_id, seq)])
                    acknowledged[run_id].append(seq)
                    if all(len(seqs) >= 20 for seqs in acknowledged.values()):
                        enough.set()
            except StoreUnavailable as error:
                errors.append(error)
                if len(errors) == len(run_ids):
                    all_failed.set()

        async with anyio.create_task_group() as writers:
            for run_id in run_ids:
                writers.start_soon(write, run_id)
            with anyio.fail_after(10):
                await enough.wait()
            durable_redis.kill()
            with anyio.fail_after(GIVE_UP_S):  # every writer gave up: none hangs
                await all_failed.wait()

        # While the server is down every call fails as fast, reads included.
        with anyio.fail_after(GIVE_UP_S), pytest.raises(StoreUnavailable):
            await store.get_run("acme", "r1")

        durable_redis.start()  # same data directory, same append-only file

        with anyio.fail_after(GIVE_UP_S):
            for run_id in run_ids:
                assert (await store.get_run("acme", run_id))["status"] == "running"
                stored = [e["seq"] for e in await store.list_events("acme", run_id)]
                sent = acknowledged[run_id]
                # Everything acknowledged is there; at most the write in flight at the kill
                # may be there too (applied, its reply lost).
                assert stored in (sent, [*sent, len(sent) + 1])
                assert len(await store.list_attempts("acme", run_id)) == 5
            # The store writes again (its Lua scripts are reloaded into the new server).
            await store.add_events("acme", "r1", [event("r1", 1000)])
            await store.save_run("acme", run_record("r1", status="succeeded"))
            assert (await store.list_events("acme", "r1", after_seq=999))[0]["seq"] == 1000
            assert [s.status for s in await store.list_runs("acme", status="succeeded")] == ["succeeded"]


async def test_a_stalled_server_is_unavailable_after_the_socket_timeout(durable_redis: RedisServer) -> None:
    async with RedisStore(durable_redis.url, socket_timeout=0.5) as store:
        await store.save_run("acme", run_record("r1"))
        durable_redis.pause()
        with anyio.fail_after(GIVE_UP_S), pytest.raises(StoreUnavailable):
            await store.get_run("acme", "r1")
        durable_redis.resume()
        # The timed-out connection was dropped: no late reply is taken for the next call's.
        with anyio.fail_after(GIVE_UP_S):
            assert await store.list_events("acme", "r1") == []
            assert (await store.get_run("acme", "r1"))["run_id"] == "r1"


NOW = datetime(2026, 1, 31, tzinfo=UTC)
EVERY_CALL: dict[str, Callable[[Store], Awaitable[object]]] = {
    "save_plan": lambda s: s.save_plan("acme", plan("p1")),
    "get_plan": lambda s: s.get_plan("acme", "p1"),
    "list_plans": lambda s: s.list_plans("acme"),
    "save_run": lambda s: s.save_run("acme", run_record("r1"), user="alice"),
    "get_run": lambda s: s.get_run("acme", "r1"),
    "list_runs": lambda s: s.list_runs("acme", status="failed"),
    "list_attempts": lambda s: s.list_attempts("acme", "r1"),
    "add_events": lambda s: s.add_events("acme", "r1", [event("r1", 1)]),
    "list_events": lambda s: s.list_events("acme", "r1"),
    "put_session": lambda s: s.put_session(
        "acme", SessionEntry(session_id="s", principal="alice", created_at=NOW, expires_at=hour_from_now())
    ),
    "get_session": lambda s: s.get_session("acme", "alice", "s"),
    "delete_session": lambda s: s.delete_session("acme", "alice", "s"),
    "add_api_key": lambda s: s.add_api_key(
        ApiKeyEntry(key_id="k", tenant="acme", key_hash="h", created_at=NOW)
    ),
    "get_api_key": lambda s: s.get_api_key("k"),
    "list_api_keys": lambda s: s.list_api_keys("acme"),
    "revoke_api_key": lambda s: s.revoke_api_key("acme", "k"),
    "add_audit": lambda s: s.add_audit("acme", [AuditEntry(at=NOW, action="tool_call")]),
    "list_audit": lambda s: s.list_audit("acme", user="alice"),
    "export_user": lambda s: s.export_user("acme", "alice"),
    "erase_user": lambda s: s.erase_user("acme", "alice"),
}


@pytest.mark.parametrize("name", EVERY_CALL)
async def test_every_call_on_a_dead_server_is_unavailable(durable_redis: RedisServer, name: str) -> None:
    async with RedisStore(durable_redis.url) as store:
        await fill(store, "acme")
        durable_redis.kill()
        with anyio.fail_after(GIVE_UP_S), pytest.raises(StoreUnavailable):
            await EVERY_CALL[name](store)


async def test_opening_a_store_on_a_dead_server_is_unavailable(durable_redis: RedisServer) -> None:
    durable_redis.kill()
    with anyio.fail_after(GIVE_UP_S), pytest.raises(StoreUnavailable):
        async with open_store(durable_redis.url):
            pass


async def test_restarting_redis_on_its_data_keeps_every_kind_of_item(durable_redis: RedisServer) -> None:
    async with open_store(durable_redis.url) as store:
        await fill(store, "acme")
        before = await store.export_user("acme", "alice")
        durable_redis.restart()
        with anyio.fail_after(GIVE_UP_S):
            assert await store.export_user("acme", "alice") == before
