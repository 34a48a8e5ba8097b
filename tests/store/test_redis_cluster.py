"""The Redis store on a real Redis Cluster (``redis+cluster://``), beyond the shared
contract (which runs on it too): each tenant's keys sit on one node in one slot while
tenants and API keys spread over the nodes, cluster URLs are checked, and a dead node is
a quick StoreUnavailable for the tenants it served while the others go on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest
from redis.crc import key_slot

from planexec.store import (
    ApiKeyEntry,
    RedisResultCache,
    Store,
    StoreConfigError,
    StoreUnavailable,
    open_store,
)
from planexec.store._redis import RedisStore
from planexec.store._redis_keys import TenantKeys

from .redis_server import RedisClusterServers
from .samples import run_record
from .test_redis import GIVE_UP_S, fill, hash_tag

pytestmark = pytest.mark.anyio

TENANTS = [f"tenant-{n}" for n in range(12)]


@pytest.fixture
async def cluster_store(redis_cluster: RedisClusterServers) -> AsyncIterator[Store]:
    redis_cluster.flush()
    async with open_store(redis_cluster.url) as opened:
        yield opened


def keys_by_node(cluster: RedisClusterServers) -> list[set[str]]:
    return [{key.decode() for key in client.scan_iter("*")} for client in cluster.clients()]


async def test_a_tenants_keys_share_one_node_and_slot_while_tenants_spread(
    cluster_store: Store, redis_cluster: RedisClusterServers
) -> None:
    for tenant in TENANTS:
        await fill(cluster_store, tenant)
    by_node = keys_by_node(redis_cluster)
    nodes_of_tenant: dict[str, set[int]] = {}
    for node, keys in enumerate(by_node):
        for key in keys:
            tag = hash_tag(key)
            if tag is not None:
                nodes_of_tenant.setdefault(tag.removeprefix("t:"), set()).add(node)
    assert set(nodes_of_tenant) == set(TENANTS)
    assert all(len(nodes) == 1 for nodes in nodes_of_tenant.values())
    assert len({node for nodes in nodes_of_tenant.values() for node in nodes}) == len(by_node)
    for tenant in TENANTS:
        space = {key for keys in by_node for key in keys if key.startswith(TenantKeys(tenant).prefix)}
        assert len({key_slot(key.encode()) for key in space}) == 1
        assert (await cluster_store.get_run(tenant, "r1"))["run_id"] == "r1"
        assert [entry.key_id for entry in await cluster_store.list_api_keys(tenant)] == [f"key-of-{tenant}"]


async def test_api_keys_in_many_slots_are_listed_and_found(
    cluster_store: Store, redis_cluster: RedisClusterServers
) -> None:
    now = datetime.now(UTC)
    ids = [f"k{n:02d}" for n in range(20)]
    for key_id in ids:
        await cluster_store.add_api_key(
            ApiKeyEntry(key_id=key_id, tenant="acme", user="ana", key_hash="h", created_at=now)
        )
    by_node = keys_by_node(redis_cluster)
    holders = [node for node, keys in enumerate(by_node) if any("apikey:" in key for key in keys)]
    assert len(holders) > 1  # the global entries are spread: listing them cannot be one MGET
    assert [entry.key_id for entry in await cluster_store.list_api_keys("acme")] == ids
    assert (await cluster_store.get_api_key("k07")).tenant == "acme"
    await cluster_store.revoke_api_key("acme", "k07")
    assert (await cluster_store.get_api_key("k07")).revoked_at is not None
    assert (await cluster_store.erase_user("acme", "ana"))["api_keys"] == 20
    assert await cluster_store.list_api_keys("acme") == []


@pytest.mark.parametrize(
    "url",
    [
        "redis+cluster://127.0.0.1:7000/1",  # a cluster has database 0 only
        "rediss+cluster://127.0.0.1:7000/3",
        "redis+cluster:///",  # no node
    ],
)
def test_a_cluster_url_that_cannot_work_is_refused_when_the_store_is_made(url: str) -> None:
    with pytest.raises(StoreConfigError):
        open_store(url)


def test_a_cluster_url_names_the_cluster_in_messages() -> None:
    assert RedisStore("redis+cluster://10.0.0.5:7001").where == "Redis Cluster at 10.0.0.5:7001"
    assert RedisStore("redis+cluster://10.0.0.5:7001/0").where == "Redis Cluster at 10.0.0.5:7001"
    assert RedisStore("redis://10.0.0.5:7001/2").where == "Redis at 10.0.0.5:7001"


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[RedisClusterServers]:
    """A cluster of this test's own, to kill a node of."""
    cluster = RedisClusterServers(tmp_path)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


async def test_a_dead_node_fails_its_tenants_quickly_and_spares_the_others(
    own_cluster: RedisClusterServers,
) -> None:
    async with RedisStore(own_cluster.url, socket_timeout=1.0, connect_timeout=0.5) as store:
        for tenant in TENANTS:
            await store.save_run(tenant, run_record("r1"))
        node_of = {}
        for node, keys in enumerate(keys_by_node(own_cluster)):
            for key in keys:
                if (tag := hash_tag(key)) is not None:
                    node_of[tag.removeprefix("t:")] = node
        doomed = node_of[TENANTS[0]]
        spared = [tenant for tenant in TENANTS if node_of[tenant] != doomed]
        assert spared
        own_cluster.nodes[doomed].kill()

        with anyio.fail_after(GIVE_UP_S * 3), pytest.raises(StoreUnavailable):
            await store.get_run(TENANTS[0], "r1")
        with anyio.fail_after(GIVE_UP_S * 3):
            for tenant in spared:  # the other nodes still serve their slots
                assert (await store.get_run(tenant, "r1"))["status"] == "succeeded"


async def test_the_result_cache_works_on_a_cluster_under_each_tenants_tag(
    redis_cluster: RedisClusterServers,
) -> None:
    redis_cluster.flush()
    async with RedisResultCache(redis_cluster.url) as cache:
        for tenant in TENANTS:
            await cache.set(tenant, "demo/add/abc", tenant.encode(), 60)
        for tenant in TENANTS:
            assert await cache.get(tenant, "demo/add/abc") == tenant.encode()
        assert await cache.get("nobody", "demo/add/abc") is None
    stored = [key for keys in keys_by_node(redis_cluster) for key in keys]
    assert sorted(stored) == sorted(RedisResultCache.key(tenant, "demo/add/abc") for tenant in TENANTS)
