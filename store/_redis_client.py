"""Redis clients from store URLs: one server or a Redis Cluster.

- ``redis://host:port/db`` and ``rediss://...`` (TLS): one server (``Redis``);
- ``redis+cluster://host:port`` and ``rediss+cluster://...``: a Redis Cluster
  (``RedisCluster``), reached through any of its nodes; the client learns the others and
  which slots each serves, and follows them as slots move. A cluster has database 0 only.

Both kinds serve the same store: every key of a tenant carries the tenant's hash tag, so
its keys share one slot and multi-key transactions and scripts stay on one node
(:mod:`._redis_keys`); the few writes that span slots (API keys) are separate steps.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from ._open import StoreConfigError

__all__ = ["CLUSTER_SCHEMES", "RedisClient", "connect", "describe"]

RedisClient = Redis | RedisCluster

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
"""Cluster URL schemes and the plain scheme each stands for."""


def _cluster_url(url: str) -> str | None:
    """The plain URL of a cluster URL (None for a one-server URL); checks the database."""
    parts = urlsplit(url)
    plain = CLUSTER_SCHEMES.get(parts.scheme)
    if plain is None:
        return None
    if parts.path.strip("/") not in ("", "0"):
        raise StoreConfigError(f"{url!r}: a Redis Cluster has database 0 only")
    if not parts.hostname:
        raise StoreConfigError(f"{url!r}: name a node of the cluster, e.g. redis+cluster://host:6379")
    return urlunsplit(parts._replace(scheme=plain, path=""))


def describe(url: str) -> str:
    """``Redis at host:port`` or ``Redis Cluster at host:port``, for messages (checks a
    cluster URL, raising StoreConfigError)."""
    parts = urlsplit(url)
    kind = "Redis" if _cluster_url(url) is None else "Redis Cluster"
    return f"{kind} at {parts.hostname or 'localhost'}:{parts.port or 6379}"


def connect(url: str, **options: Any) -> RedisClient:
    """A client for ``url`` (not connected yet: the first command connects). ``options``
    go to ``from_url`` (timeouts, retry, decode_responses...)."""
    cluster = _cluster_url(url)
    if cluster is not None:
        return RedisCluster.from_url(cluster, **options)
    return Redis.from_url(url, **options)
