from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis

from planexec.store import Store, open_store

from ..store.conftest import durable_redis, redis_server
from ..store.redis_server import RedisServer
from .support import FakeClock, Harness, RecordingSleep, ScriptedTools

__all__ = ["durable_redis", "redis_server"]  # store fixtures, shared with the replay tests


@pytest.fixture
def harness() -> Harness:
    return Harness(ScriptedTools(), FakeClock(), RecordingSleep())


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh store on a real SQLite file."""
    async with open_store(f"sqlite:///{tmp_path / 'planexec.db'}") as opened:
        yield opened


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh, empty store of each backend (Redis: the session's real redis-server)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'planexec.db'}"
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        url = server.url
        redis.Redis.from_url(url).flushdb()
    async with open_store(url) as opened:
        yield opened
