"""Fixtures shared by every test package.

``redis_server`` is one real redis-server for the whole session; ``store`` is a fresh,
empty store of each backend (a real SQLite file, and a flushed key space on that server);
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
from .store.redis_server import RedisServer

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


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh, empty store of each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'planexec.db'}"
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        url = server.url
        redis.Redis.from_url(url).flushdb()  # a fresh, empty key space per test
    async with open_store(url) as opened:
        yield opened
