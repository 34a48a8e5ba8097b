"""Export and erasure by (tenant, user) on Redis. Both start from the per-(tenant, user)
index keys (:mod:`._redis_keys`), never from a scan of the key space; API keys come from
the tenant's (small) set of key ids."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import _redis_apikeys as apikeys
from ._models import PlanEntry, SessionEntry, attempts_of
from ._redis_codec import audit_entry, loads, text
from ._redis_keys import TenantKeys, apikey_key

if TYPE_CHECKING:
    from ._redis import RedisStore

__all__ = ["erase_user", "export_user"]


async def export_user(store: RedisStore, tenant: str, user: str) -> dict[str, Any]:
    """``{tenant, user, plans, runs: [{record, attempts, events}], sessions, api_keys,
    audit}``; API keys without their hash. Runs are those saved with this user, sessions
    those of this principal."""
    redis, keys = store.redis, TenantKeys(tenant)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.smembers(keys.user(user, "plans"))
        pipe.smembers(keys.user(user, "runs"))
        pipe.smembers(keys.user(user, "sessions"))
        pipe.zrange(keys.user(user, "audit"), 0, -1)
        plan_ids, run_ids, session_keys, audit = await pipe.execute()
    plan_ids, run_ids, session_keys = sorted(plan_ids), sorted(run_ids), sorted(session_keys)
    async with redis.pipeline(transaction=True) as pipe:
        for plan_id in plan_ids:
            pipe.hget(keys.plan(plan_id), "entry")
        for run_id in run_ids:
            pipe.hmget(keys.run(run_id), ["record", "user"])
            pipe.zrange(keys.events(run_id), 0, -1)
        for key in session_keys:
            pipe.get(key)
        found = iter(await pipe.execute())
    plans = [PlanEntry.model_validate_json(entry) for entry in _take(found, len(plan_ids)) if entry]
    runs: list[dict[str, Any]] = []
    for _ in run_ids:
        (record, run_user), events = next(found), next(found)
        if record is not None and run_user == user:
            document = loads(record)
            runs.append(
                {
                    "record": document,
                    "attempts": [attempt.model_dump(mode="json") for attempt in attempts_of(document)],
                    "events": [loads(event) for event in events],
                }
            )
    now = datetime.now(UTC)
    sessions = [SessionEntry.model_validate_json(entry) for entry in _take(found, len(session_keys)) if entry]
    api_keys = [entry for entry in await apikeys.of_tenant(store.redis, tenant) if entry.user == user]
    return {
        "tenant": tenant,
        "user": user,
        "plans": [entry.model_dump(mode="json") for entry in sorted(plans, key=lambda p: p.created_at)],
        "runs": runs,
        "sessions": [entry.model_dump(mode="json") for entry in sessions if entry.expires_at > now],
        "api_keys": [entry.model_dump(mode="json", exclude={"key_hash"}) for entry in api_keys],
        "audit": [audit_entry(text(member)).model_dump(mode="json") for member in audit],
    }


async def erase_user(store: RedisStore, tenant: str, user: str) -> dict[str, int]:
    """Delete the plans, runs (with attempts and events), sessions, API keys and audit
    records of (tenant, user); return how many of each existed."""
    redis, keys = store.redis, TenantKeys(tenant)
    plans_index, runs_index = keys.user(user, "plans"), keys.user(user, "runs")
    sessions_index, audit_index = keys.user(user, "sessions"), keys.user(user, "audit")
    async with redis.pipeline(transaction=True) as pipe:
        pipe.smembers(plans_index)
        pipe.smembers(runs_index)
        pipe.smembers(sessions_index)
        pipe.zrange(audit_index, 0, -1)
        plan_ids, run_ids, session_keys, audit = await pipe.execute()
    plan_ids, run_ids = sorted(plan_ids), sorted(run_ids)
    async with redis.pipeline(transaction=True) as pipe:
        for plan_id in plan_ids:
            pipe.hget(keys.plan(plan_id), "user_key")
        for run_id in run_ids:
            pipe.hmget(keys.run(run_id), ["user_key", "status_key"])
        owners = await pipe.execute()
    # An item saved again under another user since it was indexed is no longer this user's.
    plan_owners, run_owners = owners[: len(plan_ids)], owners[len(plan_ids) :]
    plan_ids = [plan_id for plan_id, owner in zip(plan_ids, plan_owners, strict=True) if owner == plans_index]
    runs = [
        (run_id, status_key)
        for run_id, (owner, status_key) in zip(run_ids, run_owners, strict=True)
        if owner == runs_index
    ]
    api_keys = [entry.key_id for entry in await apikeys.of_tenant(store.redis, tenant) if entry.user == user]

    session_keys = sorted(session_keys)
    async with redis.pipeline(transaction=True) as pipe:
        # First the deletions whose replies count what existed, in this order.
        for plan_id in plan_ids:
            pipe.delete(keys.plan(plan_id))
        for run_id, _ in runs:
            pipe.delete(keys.run(run_id))
        for key in session_keys:
            pipe.delete(key)
        if plan_ids:
            pipe.zrem(keys.plans, *plan_ids)
        for run_id, status_key in runs:
            pipe.delete(keys.attempts(run_id), keys.events(run_id))
            pipe.zrem(keys.runs, run_id)
            if status_key:
                pipe.zrem(status_key, run_id)
        if audit:
            pipe.zrem(keys.audit, *audit)
        pipe.delete(plans_index, runs_index, sessions_index, audit_index)
        deleted = iter(await pipe.execute())
    if api_keys:
        # The global API key entries are outside the tenant's slot: a separate write.
        async with redis.pipeline(transaction=False) as pipe:
            for key_id in api_keys:
                pipe.delete(apikey_key(key_id))
            pipe.srem(keys.apikeys, *api_keys)
            await pipe.execute()
    return {
        "plans": sum(_take(deleted, len(plan_ids))),
        "runs": sum(_take(deleted, len(runs))),
        "sessions": sum(_take(deleted, len(session_keys))),
        "api_keys": len(api_keys),
        "audit": len(audit),
    }


def _take(values: Any, n: int) -> list[Any]:
    return [next(values) for _ in range(n)]
