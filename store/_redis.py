"""The Redis backend (``redis://host:port/db``, or a Redis Cluster at
``redis+cluster://host:port``: :mod:`._redis_client`), for several replicas sharing one
store.

Layout: :mod:`._redis_keys` (every tenant key carries the tenant's hash tag). Writes that
touch several of a tenant's keys go in one MULTI transaction or one Lua script
(:mod:`._redis_scripts`), so a reader never sees half of one. The global API key entries
sit in another Cluster slot, so adding (or erasing) a key is two writes: the global entry
first, so a key is never listed without being found.

Losing the server: connects and reads time out after a few seconds; a dropped connection
is retried a bounded number of times, quickly, then the call raises
:class:`StoreUnavailable`. Writes are idempotent, so a retry after a lost reply adds
nothing twice (one visible trace: ``delete_session`` may then say NotFound for the session
it did delete). The connection pool reconnects by itself, so once the server is back the
same store serves calls again; the Lua scripts are loaded again when the server lost them.

Sessions expire in Redis at their ``expires_at`` (and are NotFound past it even if Redis
has not dropped them yet). Plans, runs, attempts and events are kept forever unless the
store is built with a ``retention``.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, Self, TypeVar

import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from . import _redis_apikeys as apikeys
from . import _redis_scripts as scripts
from ._document import JsonEvents
from ._errors import NotFound, StoreError, StoreUnavailable
from ._models import ApiKeyEntry, AttemptEntry, AuditEntry, PlanEntry, RunSummary, SessionEntry
from ._redis_client import RedisClient, connect, describe
from ._redis_codec import (
    attempts_of,
    audit_entry,
    audit_member,
    dumps,
    epoch_ms,
    epoch_us,
    loads,
    members,
    text_of,
    time_score,
)
from ._redis_keys import TenantKeys
from ._redis_privacy import erase_user, export_user

__all__ = ["RedisStore"]

_P = ParamSpec("_P")
_T = TypeVar("_T")


def _guarded(method: Callable[_P, Awaitable[_T]]) -> Callable[_P, Coroutine[Any, Any, _T]]:
    """Turn a lost or unreachable server into :class:`StoreUnavailable`."""

    @functools.wraps(method)
    async def call(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return await method(*args, **kwargs)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
            store = args[0]
            where = store.where if isinstance(store, RedisStore) else "Redis"
            raise StoreUnavailable(f"{where} is unavailable: {exc}") from exc
        except redis.exceptions.RedisError as exc:
            raise StoreError(f"Redis refused a store call: {exc}") from exc

    return call


class RedisStore:
    """The Store protocol on Redis (``redis.asyncio``).

    ``retention`` expires plans, runs, attempts and events that long after their last
    write (default: kept forever). ``socket_timeout`` and ``connect_timeout`` bound one
    exchange with the server; ``retries`` bounds reconnection attempts per call.
    """

    def __init__(
        self,
        url: str,
        *,
        retention: timedelta | None = None,
        socket_timeout: float = 5.0,
        connect_timeout: float = 2.0,
        retries: int = 2,
    ) -> None:
        self.url = url
        self.where = describe(url)
        self._retention_ms = 0 if retention is None else max(1, retention // timedelta(milliseconds=1))
        self._socket_timeout = socket_timeout
        self._connect_timeout = connect_timeout
        self._retries = retries
        self._redis: RedisClient | None = None

    # lifecycle

    async def __aenter__(self) -> Self:
        client = connect(
            self.url,
            decode_responses=True,
            socket_timeout=self._socket_timeout,
            socket_connect_timeout=self._connect_timeout,
            # A stalled server is not retried (that would multiply the timeout); a
            # dropped connection is, a few times, quickly.
            retry=Retry(
                ExponentialBackoff(cap=0.2, base=0.02),
                self._retries,
                supported_errors=(redis.exceptions.ConnectionError,),
            ),
        )
        self._redis = client
        self._save_plan = client.register_script(scripts.SAVE_PLAN)
        self._save_run = client.register_script(scripts.SAVE_RUN)
        self._add_events = client.register_script(scripts.ADD_EVENTS)
        self._add_audit = client.register_script(scripts.ADD_AUDIT)
        try:
            await self._ping()
        except BaseException:
            await client.aclose()
            self._redis = None
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    @property
    def redis(self) -> RedisClient:
        if self._redis is None:
            raise RuntimeError("RedisStore is not open: use it as `async with RedisStore(url) as store`")
        return self._redis

    @_guarded
    async def _ping(self) -> None:
        await self.redis.ping()

    # plans

    @_guarded
    async def save_plan(self, tenant: str, entry: PlanEntry) -> None:
        keys = TenantKeys(tenant)
        user_key = "" if entry.user is None else keys.user(entry.user, "plans")
        await self._save_plan(
            keys=[keys.plan(entry.plan_id), keys.plans],
            args=[
                entry.plan_id,
                epoch_us(entry.created_at),
                self._retention_ms,
                entry.model_dump_json(),
                user_key,
            ],
        )

    @_guarded
    async def get_plan(self, tenant: str, plan_id: str) -> PlanEntry:
        found = await self.redis.hget(TenantKeys(tenant).plan(plan_id), "entry")
        if found is None:
            raise NotFound("plan", plan_id)
        return PlanEntry.model_validate_json(found)

    @_guarded
    async def list_plans(self, tenant: str, *, limit: int = 50) -> list[PlanEntry]:
        keys = TenantKeys(tenant)
        found = await self._newest(keys.plans, limit, keys.plan, "entry")
        return [PlanEntry.model_validate_json(entry) for entry, _ in found]

    # runs, attempts, events

    @_guarded
    async def save_run(self, tenant: str, record: Mapping[str, Any], *, user: str | None = None) -> None:
        keys = TenantKeys(tenant)
        try:
            run_id, plan_id, status = str(record["run_id"]), str(record["plan_id"]), str(record["status"])
        except KeyError as missing:
            raise ValueError(f"a run record needs run_id, plan_id and status; {missing} is missing") from None
        summary = {
            "run_id": run_id,
            "plan_id": plan_id,
            "status": status,
            "started_at": record.get("started_at"),
            "finished_at": record.get("finished_at"),
        }
        await self._save_run(
            keys=[
                keys.run(run_id),
                keys.runs,
                keys.runs_by_status(status),
                keys.attempts(run_id),
                keys.events(run_id),
            ],
            args=[
                run_id,
                time_score(record.get("started_at")),
                self._retention_ms,
                text_of(record),
                dumps(summary),
                "0" if user is None else "1",
                user or "",
                "" if user is None else keys.user(user, "runs"),
            ],
        )

    @_guarded
    async def get_run(self, tenant: str, run_id: str) -> dict[str, Any]:
        found = await self.redis.hget(TenantKeys(tenant).run(run_id), "record")
        if found is None:
            raise NotFound("run", run_id)
        record: dict[str, Any] = loads(found)
        return record

    @_guarded
    async def list_runs(self, tenant: str, *, status: str | None = None, limit: int = 50) -> list[RunSummary]:
        keys = TenantKeys(tenant)
        index = keys.runs if status is None else keys.runs_by_status(status)
        found = await self._newest(index, limit, keys.run, "summary", "user")
        summaries = [RunSummary(**loads(summary), user=user) for summary, user in found]
        return [summary for summary in summaries if status is None or summary.status == status]

    @_guarded
    async def list_attempts(self, tenant: str, run_id: str) -> list[AttemptEntry]:
        found = await self.redis.hget(TenantKeys(tenant).run(run_id), "record")
        if found is None:
            raise NotFound("run", run_id)
        return attempts_of(loads(found))

    @_guarded
    async def add_events(self, tenant: str, run_id: str, events: Sequence[Mapping[str, Any]]) -> None:
        keys = TenantKeys(tenant)
        args: list[str | int] = [self._retention_ms]
        if isinstance(events, JsonEvents):  # checked and encoded
            for known, text in zip(events.seqs, events.texts, strict=True):
                args += [known, text]
        else:
            for event in events:
                seq = event.get("seq")
                if not isinstance(seq, int) or isinstance(seq, bool):
                    raise ValueError(f"an event needs an integer seq, not {seq!r}")
                args += [seq, text_of(event)]
        if len(args) == 1:
            if not await self.redis.exists(keys.run(run_id)):
                raise NotFound("run", run_id)
            return
        added = await self._add_events(keys=[keys.events(run_id), keys.run(run_id)], args=args)
        if added == -1:
            raise NotFound("run", run_id)

    @_guarded
    async def list_events(
        self, tenant: str, run_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        keys = TenantKeys(tenant)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.exists(keys.run(run_id))
            if limit is None:
                pipe.zrangebyscore(keys.events(run_id), f"({after_seq}", "+inf")
            else:
                pipe.zrangebyscore(keys.events(run_id), f"({after_seq}", "+inf", start=0, num=max(limit, 0))
            exists, found = await pipe.execute()
        if not exists:
            raise NotFound("run", run_id)
        if limit is not None and limit <= 0:
            return []
        return [loads(member) for member in found]

    # sessions

    @_guarded
    async def put_session(self, tenant: str, entry: SessionEntry) -> None:
        keys = TenantKeys(tenant)
        key = keys.session(entry.principal, entry.session_id)
        index = keys.user(entry.principal, "sessions")
        expires_ms = epoch_ms(entry.expires_at)
        async with self.redis.pipeline(transaction=True) as pipe:
            if expires_ms <= epoch_ms(datetime.now(UTC)):
                pipe.delete(key)  # already over: nothing to keep
                pipe.srem(index, key)
            else:
                pipe.set(key, entry.model_dump_json(), pxat=expires_ms)
                pipe.sadd(index, key)
                # The index lives as long as its longest-lived session: NX sets an expiry
                # on a new index, GT only ever extends it.
                pipe.pexpireat(index, expires_ms, nx=True)
                pipe.pexpireat(index, expires_ms, gt=True)
            await pipe.execute()

    @_guarded
    async def get_session(self, tenant: str, principal: str, session_id: str) -> SessionEntry:
        found = await self.redis.get(TenantKeys(tenant).session(principal, session_id))
        if found is None:
            raise NotFound("session", session_id)
        entry = SessionEntry.model_validate_json(found)
        if entry.expires_at <= datetime.now(UTC):
            raise NotFound("session", session_id)
        return entry

    @_guarded
    async def delete_session(self, tenant: str, principal: str, session_id: str) -> None:
        keys = TenantKeys(tenant)
        key = keys.session(principal, session_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.get(key)
            pipe.delete(key)
            pipe.srem(keys.user(principal, "sessions"), key)
            found, _, _ = await pipe.execute()
        if found is None or SessionEntry.model_validate_json(found).expires_at <= datetime.now(UTC):
            raise NotFound("session", session_id)

    # API keys

    @_guarded
    async def add_api_key(self, entry: ApiKeyEntry) -> None:
        await apikeys.add(self.redis, entry)

    @_guarded
    async def get_api_key(self, key_id: str) -> ApiKeyEntry:
        return await apikeys.get(self.redis, key_id)

    @_guarded
    async def list_api_keys(self, tenant: str) -> list[ApiKeyEntry]:
        return await apikeys.of_tenant(self.redis, tenant)

    @_guarded
    async def revoke_api_key(self, tenant: str, key_id: str) -> None:
        await apikeys.revoke(self.redis, tenant, key_id)

    # audit

    @_guarded
    async def add_audit(self, tenant: str, entries: Sequence[AuditEntry]) -> None:
        if not entries:
            return
        keys = TenantKeys(tenant)
        script_keys = [keys.audit, keys.audit_seq]
        args: list[str | int] = []
        for entry in entries:
            user_index = 0
            if entry.user is not None:
                user_key = keys.user(entry.user, "audit")
                if user_key not in script_keys:
                    script_keys.append(user_key)
                user_index = script_keys.index(user_key) + 1  # Lua counts from 1
            args += [audit_member(entry), user_index]
        await self._add_audit(keys=script_keys, args=args)

    @_guarded
    async def list_audit(self, tenant: str, *, user: str | None = None, limit: int = 100) -> list[AuditEntry]:
        keys = TenantKeys(tenant)
        index = keys.audit if user is None else keys.user(user, "audit")
        if limit <= 0:
            return []
        found = members(await self.redis.zrevrange(index, 0, limit - 1))
        return [audit_entry(member) for member in found]

    # privacy

    @_guarded
    async def export_user(self, tenant: str, user: str) -> dict[str, Any]:
        return await export_user(self, tenant, user)

    @_guarded
    async def erase_user(self, tenant: str, user: str) -> dict[str, int]:
        return await erase_user(self, tenant, user)

    # helpers

    async def _newest(
        self, index: str, limit: int, key_of: Callable[[str], str], field: str, extra: str | None = None
    ) -> list[tuple[str, str | None]]:
        """For the first ``limit`` members of a sorted set, highest score first: the
        ``field`` (and ``extra``, or None) of the hash ``key_of(member)``. Members whose
        hash is gone (expired by retention) are skipped and dropped from the index."""
        found: list[tuple[str, str | None]] = []
        stale: list[str] = []
        start = 0
        while len(found) < limit:
            page = members(await self.redis.zrevrange(index, start, start + limit - 1))
            if not page:
                break
            start += len(page)
            async with self.redis.pipeline(transaction=False) as pipe:
                for member in page:
                    pipe.hmget(key_of(member), [field] if extra is None else [field, extra])
                rows: list[list[str | None]] = await pipe.execute()
            for member, row in zip(page, rows, strict=True):
                if row[0] is None:
                    stale.append(member)
                elif len(found) < limit:
                    found.append((row[0], row[1] if extra is not None else None))
        if stale:
            await self.redis.zrem(index, *stale)
        return found
