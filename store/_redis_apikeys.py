"""API keys on Redis: ``planexec:apikey:<key id>`` holds the entry (global: the one lookup
that tells a request its tenant), the tenant's set lists its key ids. The two live in
different Cluster slots, so writing both is two steps, the global entry first: a key is
never listed without being found, and a retried add finishes what a lost one began."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import cast

import redis.exceptions

from ._errors import Conflict, NotFound, StoreError
from ._models import ApiKeyEntry
from ._redis_client import RedisClient
from ._redis_codec import members
from ._redis_keys import TenantKeys, apikey_key

__all__ = ["add", "get", "of_tenant", "revoke"]

# Tries of the optimistic (WATCH) transaction of a revocation before giving up.
_WATCH_ATTEMPTS = 5


async def add(client: RedisClient, entry: ApiKeyEntry) -> None:
    """Conflict when the key id exists, unless with this very entry (a retried add)."""
    value = entry.model_dump_json()
    key = apikey_key(entry.key_id)
    if not await client.set(key, value, nx=True):
        if await client.get(key) != value:
            raise Conflict(f"API key id {entry.key_id!r} already exists")
    await client.sadd(TenantKeys(entry.tenant).apikeys, entry.key_id)


async def get(client: RedisClient, key_id: str) -> ApiKeyEntry:
    found = await client.get(apikey_key(key_id))
    if found is None:
        raise NotFound("API key", key_id)
    return ApiKeyEntry.model_validate_json(found)


async def of_tenant(client: RedisClient, tenant: str) -> list[ApiKeyEntry]:
    """The tenant's keys, oldest first (by ``created_at``, then ``key_id``)."""
    key_ids = sorted(members(await client.smembers(TenantKeys(tenant).apikeys)))
    if not key_ids:
        return []
    # One GET each, pipelined: the entries sit in slots of their own (MGET needs one slot).
    async with client.pipeline(transaction=False) as pipe:
        for key_id in key_ids:
            pipe.get(apikey_key(key_id))
        found: list[str | None] = await pipe.execute()
    entries = [ApiKeyEntry.model_validate_json(value) for value in found if value is not None]
    entries = [entry for entry in entries if entry.tenant == tenant]
    return sorted(entries, key=lambda entry: (entry.created_at, entry.key_id))


async def revoke(client: RedisClient, tenant: str, key_id: str) -> None:
    """Set ``revoked_at`` to now unless it is set already (the first time stays)."""
    key = apikey_key(key_id)
    async with client.pipeline(transaction=True) as pipe:
        # Optimistic: if the key changes between the read and the write (another revoke),
        # read again; that read then finds it revoked and keeps that time.
        for _ in range(_WATCH_ATTEMPTS):
            try:
                await pipe.watch(key)
                found = await pipe.get(key)
                entry = None if found is None else ApiKeyEntry.model_validate_json(found)
                if entry is None or entry.tenant != tenant:
                    raise NotFound("API key", key_id)
                if entry.revoked_at is not None:
                    return
                revoked = entry.model_copy(update={"revoked_at": datetime.now(UTC)})
                cast(Callable[[], None], pipe.multi)()  # redis-py leaves multi() untyped
                pipe.set(key, revoked.model_dump_json(), xx=True)
                await pipe.execute()
                return
            except redis.exceptions.WatchError:
                # The key changed, or the connection dropped while it was watched: once
                # more from the read (a server that is gone fails that read).
                await cast(Callable[[], Awaitable[None]], pipe.reset)()
    raise StoreError(f"API key {key_id!r} kept changing while being revoked; try again")
