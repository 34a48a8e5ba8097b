"""Fixtures shared by every test package.

``redis_server`` is one real redis-server for the whole session, ``redis_cluster`` one
real Redis Cluster of three; ``store`` is a fresh, empty store of each backend (a real
SQLite file, a flushed key space on that server, a flushed cluster);
``durable_redis`` is a test's own redis-server (AOF, fsync always) to kill and restart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from planexec.planner import _litellm as planner_litellm
from planexec.store import Store, open_store

from . import llm_guard
from .store.redis_server import RedisClusterServers, RedisServer

llm_guard.install(planner_litellm)


@pytest.fixture(autouse=True)
def _no_real_llm_provider() -> None:
    """litellm may only reach loopback endpoints (see tests/llm_guard.py); never imports it."""
    llm_guard.guard_if_imported()


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only (the backend the server uses)."""
    return "asyncio"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers]:
    """One real Redis Cluster (three primaries) for the whole session."""
    cluster = RedisClusterServers(tmp_path_factory.mktemp("redis-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own (AOF, fsync always), free to kill, pause and
    restart on the same data directory."""
    directory = tmp_path / "redis-data"
    directory.mkdir()
    server = RedisServer(directory, durable=True)
    server.start()
    yield server
    server.resume()  # a stopped process would not act on SIGTERM
    server.stop()


@pytest.fixture(params=["sqlite", "redis", "redis_cluster"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh, empty store of each backend: a SQLite file, one Redis server, a Redis
    Cluster of three nodes."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'planexec.db'}"
    elif request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        url = server.url
        redis.Redis.from_url(url).flushdb()  # a fresh, empty key space per test
    else:
        cluster: RedisClusterServers = request.getfixturevalue("redis_cluster")
        url = cluster.url
        cluster.flush()
    async with open_store(url) as opened:
        yield opened
