"""The tool-result cache on Redis, shared by every replica of one deployment.

Implements the registry's ``CacheBackend`` (bytes in, bytes out, with a TTL) under the
tenant's hash tag: ``planexec:{t:T}:cache:K`` (``K`` percent-encoded like every key
component, see ``_redis_keys``), written with ``SET ... PX`` so Redis drops it at its
TTL. An async context manager; a lost Redis raises (the registry then calls the tool
uncached), bounded by the socket timeouts.
"""

from __future__ import annotations

from typing import Self

from ._redis_client import RedisClient, connect
from ._redis_keys import TenantKeys, encode

__all__ = ["RedisResultCache"]


class RedisResultCache:
    def __init__(self, url: str, *, socket_timeout: float = 2.0, connect_timeout: float = 2.0) -> None:
        self.url = url
        self._client: RedisClient | None = None
        self._socket_timeout = socket_timeout
        self._connect_timeout = connect_timeout

    async def __aenter__(self) -> Self:
        self._client = connect(
            self.url, socket_timeout=self._socket_timeout, socket_connect_timeout=self._connect_timeout
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _redis(self) -> RedisClient:
        if self._client is None:
            raise RuntimeError("RedisResultCache is used outside 'async with'")
        return self._client

    @staticmethod
    def key(tenant: str, key: str) -> str:
        return f"{TenantKeys(tenant).prefix}cache:{encode(key)}"

    async def get(self, tenant: str, key: str) -> bytes | None:
        value = await self._redis().get(self.key(tenant, key))
        return value if isinstance(value, bytes) else None

    async def set(self, tenant: str, key: str, value: bytes, ttl_s: float) -> None:
        await self._redis().set(self.key(tenant, key), value, px=max(1, int(ttl_s * 1000)))
