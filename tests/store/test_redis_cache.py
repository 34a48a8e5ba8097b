"""The Redis tool-result cache: values round-trip under the tenant's hash tag, expire at
their TTL, never cross tenants, and a lost Redis raises (bounded) instead of hanging."""

from __future__ import annotations

import anyio
import pytest
import redis
from redis.exceptions import RedisError

from planexec.store import RedisResultCache

from .redis_server import RedisServer

pytestmark = pytest.mark.anyio


@pytest.fixture
def url(redis_server: RedisServer) -> str:
    redis.Redis.from_url(redis_server.url).flushdb()
    return redis_server.url


async def test_values_round_trip_per_tenant(url: str) -> None:
    async with RedisResultCache(url) as cache:
        await cache.set("acme", "demo/add/abc", b'{"x":1}', 60)
        assert await cache.get("acme", "demo/add/abc") == b'{"x":1}'
        assert await cache.get("globex", "demo/add/abc") is None
        assert await cache.get("acme", "demo/add/other") is None
    keys = redis.Redis.from_url(url).keys("*")
    assert keys == [b"planexec:{t:acme}:cache:demo%2Fadd%2Fabc"]


async def test_tenant_names_cannot_forge_another_tenants_key(url: str) -> None:
    async with RedisResultCache(url) as cache:
        await cache.set("a}:cache:x", "k", b"1", 60)
        assert await cache.get("a", "x}:cache:k") is None
        assert await cache.get("a}:cache:x", "k") == b"1"


async def test_entries_expire_at_their_ttl(url: str) -> None:
    async with RedisResultCache(url) as cache:
        await cache.set("acme", "k", b"v", 0.05)
        ttl = redis.Redis.from_url(url).pttl(RedisResultCache.key("acme", "k"))
        assert 0 < ttl <= 50
        with anyio.fail_after(5):
            while True:  # Redis expires it on its own clock: nothing to await
                if await cache.get("acme", "k") is None:
                    break
                await anyio.sleep(0.02)


async def test_a_lost_redis_raises_instead_of_hanging(durable_redis: RedisServer) -> None:
    async with RedisResultCache(durable_redis.url, socket_timeout=0.5, connect_timeout=0.5) as cache:
        await cache.set("acme", "k", b"v", 60)
        durable_redis.kill()
        with anyio.fail_after(5), pytest.raises(RedisError):
            await cache.get("acme", "k")
