"""Store-only fixtures. ``store`` (SQLite and Redis), ``redis_server`` and
``durable_redis`` are shared by every package and live in ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis

from planexec.store import Store, open_store

from .redis_server import RedisServer


@pytest.fixture
async def redis_store(redis_server: RedisServer) -> AsyncIterator[Store]:
    """A fresh, empty Redis store on the session's server."""
    redis.Redis.from_url(redis_server.url).flushdb()
    async with open_store(redis_server.url) as opened:
        yield opened
