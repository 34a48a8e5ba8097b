"""Export and erasure by (tenant, user) for the SQLite store.

Both run inside the caller's transaction (export: one read snapshot; erasure: one write
transaction, so a user is erased whole or not at all). A run's attempts are read from
its record; its events go with the run (foreign keys, ``ON DELETE CASCADE``). Expired sessions are neither
exported nor counted: they are dropped first, as if they had never been there.
"""

from __future__ import annotations

from typing import Any

import aiosqlite

from . import _sqlite_rows as rows
from ._models import attempts_of

__all__ = ["erase_user", "export_user"]


async def export_user(conn: aiosqlite.Connection, tenant: str, user: str, *, now: str) -> dict[str, Any]:
    key = (tenant, user)
    plans = await conn.execute_fetchall(
        "SELECT plan_id, user, created_at, plan, provenance FROM plans"
        " WHERE tenant = ? AND user = ? ORDER BY created_at DESC, plan_id DESC",
        key,
    )
    runs = await conn.execute_fetchall(
        "SELECT run_id, record FROM runs WHERE tenant = ? AND user = ? ORDER BY started_at DESC, run_id DESC",
        key,
    )
    exported_runs = []
    for run_id, record in runs:
        events = await conn.execute_fetchall(
            "SELECT e.value FROM event_batches AS b, json_each(b.events) AS e"
            " WHERE b.tenant = ? AND b.run_id = ? ORDER BY e.value ->> '$.seq'",
            (tenant, run_id),
        )
        document = rows.loads(record)
        exported_runs.append(
            {
                "record": document,
                "attempts": [attempt.model_dump(mode="json") for attempt in attempts_of(document)],
                "events": [rows.loads(event) for (event,) in events],
            }
        )
    sessions = await conn.execute_fetchall(
        "SELECT principal, session_id, data, created_at, expires_at FROM sessions"
        " WHERE tenant = ? AND principal = ? AND expires_at > ? ORDER BY created_at, session_id",
        (*key, now),
    )
    api_keys = await conn.execute_fetchall(
        "SELECT key_id, tenant, user, scopes, key_hash, created_at, revoked_at FROM api_keys"
        " WHERE tenant = ? AND user = ? ORDER BY created_at, key_id",
        key,
    )
    audit = await conn.execute_fetchall(
        "SELECT at, user, action, tool, run_id, task_id, detail FROM audit"
        " WHERE tenant = ? AND user = ? ORDER BY id DESC",
        key,
    )
    return {
        "tenant": tenant,
        "user": user,
        "plans": [rows.plan_from_row(row).model_dump(mode="json") for row in plans],
        "runs": exported_runs,
        "sessions": [rows.session_from_row(row).model_dump(mode="json") for row in sessions],
        "api_keys": [
            rows.api_key_from_row(row).model_dump(mode="json", exclude={"key_hash"}) for row in api_keys
        ],
        "audit": [rows.audit_from_row(row).model_dump(mode="json") for row in audit],
    }


# (kind, statement): every statement takes (tenant, user).
_ERASE = (
    ("plans", "DELETE FROM plans WHERE tenant = ? AND user = ?"),
    ("runs", "DELETE FROM runs WHERE tenant = ? AND user = ?"),
    ("sessions", "DELETE FROM sessions WHERE tenant = ? AND principal = ?"),
    ("api_keys", "DELETE FROM api_keys WHERE tenant = ? AND user = ?"),
    ("audit", "DELETE FROM audit WHERE tenant = ? AND user = ?"),
)


async def erase_user(conn: aiosqlite.Connection, tenant: str, user: str, *, now: str) -> dict[str, int]:
    await conn.execute("DELETE FROM sessions WHERE tenant = ? AND expires_at <= ?", (tenant, now))
    counts: dict[str, int] = {}
    for kind, statement in _ERASE:
        async with conn.execute(statement, (tenant, user)) as cursor:
            counts[kind] = cursor.rowcount
    return counts
