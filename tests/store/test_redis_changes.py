"""Session changes between replicas over Redis pub/sub (store/_redis_changes.py): every
follower but the publisher hears each change, in order, on one server and on a cluster;
malformed messages and a failing handler are skipped; a lost server is logged, not
raised, and following resumes once it is back."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import pytest
import redis

from planexec.store import RedisSessionChanges, SessionChange
from planexec.store._redis_changes import CHANNEL

from .redis_server import RedisClusterServers, RedisServer

pytestmark = pytest.mark.anyio


class Heard:
    """The changes one follower was handed; ``wait(n)`` returns once it has ``n``."""

    def __init__(self) -> None:
        self.changes: list[SessionChange] = []
        self._more = anyio.Event()

    async def __call__(self, change: SessionChange) -> None:
        self.changes.append(change)
        self._more.set()

    async def wait(self, count: int) -> list[SessionChange]:
        with anyio.fail_after(10):
            while len(self.changes) < count:
                self._more = anyio.Event()
                await self._more.wait()
        return self.changes


@asynccontextmanager
async def replicas(url: str, count: int) -> AsyncIterator[list[tuple[RedisSessionChanges, Heard]]]:
    """``count`` replicas' change feeds on ``url``, each followed (and subscribed)."""
    async with AsyncExitStack() as stack, anyio.create_task_group() as group:
        feeds = []
        for _ in range(count):
            feed = await stack.enter_async_context(RedisSessionChanges(url))
            heard = Heard()
            await group.start(feed.follow, heard)
            feeds.append((feed, heard))
        yield feeds
        group.cancel_scope.cancel()


@pytest.fixture(params=["server", "cluster"])
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "server":
        server: RedisServer = request.getfixturevalue("redis_server")
        return server.url
    cluster: RedisClusterServers = request.getfixturevalue("redis_cluster")
    return cluster.url


async def test_every_other_replica_hears_each_change_in_order(url: str) -> None:
    async with replicas(url, 3) as [(a, heard_a), (b, heard_b), (_, heard_c)]:
        await a.publish("acme", "alice", "s1", 1)
        await b.publish("acme", "bob", "s1", 4)
        await a.publish("globex", "alice", "default", 2)
        assert await heard_c.wait(3) == [
            SessionChange("acme", "alice", "s1", 1, a.origin),
            SessionChange("acme", "bob", "s1", 4, b.origin),
            SessionChange("globex", "alice", "default", 2, a.origin),
        ]
        assert [change.origin for change in await heard_b.wait(2)] == [a.origin, a.origin]
        assert [change.origin for change in await heard_a.wait(1)] == [b.origin]  # never its own


async def test_malformed_messages_and_a_failing_handler_are_skipped(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    raw = redis.Redis.from_url(redis_server.url)
    calls: list[SessionChange] = []
    done = anyio.Event()

    async def handler(change: SessionChange) -> None:
        calls.append(change)
        if len(calls) == 1:
            raise RuntimeError("a replica's bug")
        done.set()

    async with RedisSessionChanges(redis_server.url) as feed, anyio.create_task_group() as group:
        await group.start(feed.follow, handler)
        wrong_type = b'{"tenant": 1, "principal": "a", "session_id": "s", "revision": 1, "origin": "x"}'
        for junk in [b"not json", b"[1, 2]", b'{"tenant": "acme"}', wrong_type]:
            raw.publish(CHANNEL, junk)
        good = SessionChange("acme", "alice", "s1", 7, "elsewhere")
        raw.publish(CHANNEL, good.encode())  # raises in the handler: logged
        raw.publish(CHANNEL, good._replace(revision=8).encode())
        with anyio.fail_after(10):
            await done.wait()
        group.cancel_scope.cancel()
    assert [change.revision for change in calls] == [7, 8]
    assert "could not be applied" in caplog.text


async def test_a_lost_server_is_logged_and_following_resumes_when_it_is_back(
    durable_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="planexec.store")
    async with replicas(durable_redis.url, 2) as [(a, _), (_, heard_b)]:
        await a.publish("acme", "alice", "s1", 1)
        await heard_b.wait(1)
        durable_redis.kill()
        await a.publish("acme", "alice", "s1", 2)  # not raised: best effort
        assert "not published" in caplog.text
        durable_redis.start()
        raw = redis.Redis.from_url(durable_redis.url)
        with anyio.fail_after(15):
            while True:  # both subscribe again on their own backoff: nothing to await
                if raw.pubsub_numsub(CHANNEL)[0][1] >= 2:
                    break
                await anyio.sleep(0.05)
        await a.publish("acme", "alice", "s1", 3)
        assert [change.revision for change in await heard_b.wait(2)] == [1, 3]


