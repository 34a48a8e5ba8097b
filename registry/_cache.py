"""A result cache for read-only and idempotent tools (DESIGN §6).

A tool is cached when its spec has a ``cache_ttl_s`` and it is read-only or idempotent.
The key is (tenant, source, tool, canonical arguments): the tenant is part of every key
and the backends keep tenants apart (the Redis backend's keys start with the tenant's
hash tag), so one tenant never reads another's results. Only successful results are
cached; the arguments are canonical JSON (sorted keys, no spaces), so ``{"a": 1, "b": 2}``
and ``{"b": 2, "a": 1}`` share an entry.

Backends implement :class:`CacheBackend` (bytes in, bytes out, with a TTL):
:class:`MemoryCache` in-process (bounded, least recently used evicted first) and
``planexec.store.RedisResultCache`` when the store is Redis (shared by replicas).
A backend that fails (Redis gone) makes the call uncached, never failed.

Identical calls that miss at the same time make one tool call (in one process): the
first becomes the leader, the others wait for it and get its result as a hit (decoded
from what was stored, so each has its own copy). A leader whose call fails, errs or is
cancelled hands nothing over: each waiting call then goes on by itself, as if it had
come first. Across replicas (the Redis backend) concurrent misses still call once each.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, Protocol

import anyio

from ._spec import ToolResult, ToolSpec, tool_fingerprint

__all__ = ["CacheBackend", "CacheOutcome", "MemoryCache", "ResultCache", "cache_key"]

logger = logging.getLogger(__name__)


class CacheOutcome(StrEnum):
    HIT = "hit"
    MISS = "miss"


class CacheBackend(Protocol):
    async def get(self, tenant: str, key: str) -> bytes | None: ...

    async def set(self, tenant: str, key: str, value: bytes, ttl_s: float) -> None: ...


class MemoryCache:
    """An in-process backend: at most ``max_entries`` entries, expired ones dropped when
    read, the least recently used evicted first."""

    def __init__(self, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[tuple[str, str], tuple[float, bytes]] = OrderedDict()
        self._max = max_entries
        self._clock = clock

    async def get(self, tenant: str, key: str) -> bytes | None:
        entry = self._entries.get((tenant, key))
        if entry is None:
            return None
        expires, value = entry
        if expires <= self._clock():
            del self._entries[(tenant, key)]
            return None
        self._entries.move_to_end((tenant, key))
        return value

    async def set(self, tenant: str, key: str, value: bytes, ttl_s: float) -> None:
        self._entries[(tenant, key)] = (self._clock() + ttl_s, value)
        self._entries.move_to_end((tenant, key))
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)


def cache_key(spec: ToolSpec, arguments: Mapping[str, Any], scope: str = "") -> str:
    """``scope/source/tool/fingerprint/sha256(canonical arguments)``; the tenant is kept
    apart by the backend. The tool's fingerprint is part of the key, so a changed tool
    never serves results of the old one; ``scope`` separates sessions' own tools."""
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    fingerprint = tool_fingerprint(spec).removeprefix("sha256:")[:16]
    return f"{scope}/{spec.source}/{spec.name}/{fingerprint}/{digest}"


def cacheable(spec: ToolSpec) -> bool:
    return spec.cache_ttl_s is not None and spec.cache_ttl_s > 0 and spec.idempotent


def _encode(result: ToolResult) -> bytes:
    return json.dumps(
        {"content": result.content, "structured_content": result.structured_content},
        separators=(",", ":"),
        default=str,
    ).encode()


def _decode(value: bytes) -> ToolResult | None:
    try:
        data = json.loads(value)
        content, structured = data["content"], data["structured_content"]
    except (ValueError, KeyError, TypeError):
        return None  # a corrupt entry is a miss
    # JSON of the wrong shape is corrupt too (list("abc") would make three "blocks").
    if not (isinstance(content, list) and all(isinstance(block, dict) for block in content)):
        return None
    if structured is not None and not isinstance(structured, dict):
        return None
    return ToolResult(content, structured, meta={"planexec/cache": CacheOutcome.HIT.value})


class _Flight:
    """A miss in progress: ``done`` is set when the leader is over, ``value`` holds the
    encoded result if it succeeded."""

    __slots__ = ("done", "value")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.value: bytes | None = None


class ResultCache:
    """Looks results up before a call and keeps successful ones after it."""

    def __init__(self, backend: CacheBackend) -> None:
        self.backend = backend
        self._flights: dict[tuple[str, str], _Flight] = {}

    async def call(
        self,
        tenant: str,
        spec: ToolSpec,
        arguments: Mapping[str, Any],
        call: Callable[[], Any],
        *,
        scope: str = "",
    ) -> ToolResult:
        """The cached result of ``spec`` on ``arguments`` for ``tenant``, else ``await
        call()`` (stored when it succeeded). The result's ``meta`` says ``hit`` or ``miss``."""
        if not cacheable(spec):
            result: ToolResult = await call()
            return result
        key = cache_key(spec, arguments, scope)
        try:
            stored = await self.backend.get(tenant, key)
        except Exception as error:  # a lost cache makes the call uncached, not failed
            logger.warning("result cache unavailable: %s", error)
            stored = None
        if stored is not None:
            cached = _decode(stored)
            if cached is not None:
                return cached
        while (flight := self._flights.get((tenant, key))) is not None:
            await flight.done.wait()
            shared = None if flight.value is None else _decode(flight.value)
            if shared is not None:
                return shared
        return await self._lead(tenant, key, spec, call)

    async def _lead(self, tenant: str, key: str, spec: ToolSpec, call: Callable[[], Any]) -> ToolResult:
        """Make the call, for every identical call that comes while it runs too."""
        flight = self._flights[(tenant, key)] = _Flight()
        try:
            result: ToolResult = await call()
            if not result.is_error:
                flight.value = _encode(result)
        finally:
            del self._flights[(tenant, key)]
            flight.done.set()
        if flight.value is None:
            return result
        try:
            await self.backend.set(tenant, key, flight.value, float(spec.cache_ttl_s or 0))
        except Exception as error:
            logger.warning("result cache unavailable: %s", error)
        return result.with_meta({"planexec/cache": CacheOutcome.MISS.value})
