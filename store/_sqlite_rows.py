"""Rows of the SQLite store and the entries they hold: JSON text columns, UTC timestamps
that sort as text.

Timestamps of entries are stored as ``2026-01-31T12:00:00.000000+00:00`` (always UTC,
always microseconds), so comparing the text compares the times: session expiry and the
``created_at`` orderings are plain SQL comparisons. A naive datetime is taken as UTC.
Run records keep their own time strings as they come (the executor writes fixed-width UTC).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ._json import dumps, text_of
from ._models import ApiKeyEntry, AuditEntry, PlanEntry, RunSummary, SessionEntry

__all__ = [
    "api_key_from_row",
    "api_key_row",
    "audit_from_row",
    "audit_row",
    "dumps",
    "event_seq",
    "loads",
    "plan_from_row",
    "plan_row",
    "run_columns",
    "session_from_row",
    "session_row",
    "summary_from_row",
    "text_of",
    "timestamp",
]


def loads(text: str) -> Any:
    return json.loads(text)


def timestamp(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _required_when(text: str) -> datetime:
    return datetime.fromisoformat(text)


# plans: (tenant, plan_id, user, created_at, plan, provenance)
def plan_row(tenant: str, entry: PlanEntry) -> tuple[str, str, str | None, str, str, str]:
    return (
        tenant,
        entry.plan_id,
        entry.user,
        timestamp(entry.created_at),
        dumps(entry.plan),
        dumps(entry.provenance),
    )


def plan_from_row(row: Any) -> PlanEntry:
    plan_id, user, created_at, plan, provenance = row
    return PlanEntry(
        plan_id=plan_id,
        user=user,
        created_at=_required_when(created_at),
        plan=loads(plan),
        provenance=loads(provenance),
    )


# runs
def run_columns(record: Mapping[str, Any]) -> tuple[str, str, str, str | None, str | None]:
    """(run_id, plan_id, status, started_at, finished_at) of a run record."""
    try:
        run_id, plan_id, status = record["run_id"], record["plan_id"], record["status"]
    except KeyError as missing:
        raise ValueError(f"a run record needs run_id, plan_id and status; {missing} is missing") from None
    return str(run_id), str(plan_id), str(status), record.get("started_at"), record.get("finished_at")


def summary_from_row(row: Any) -> RunSummary:
    run_id, plan_id, status, user, started_at, finished_at = row
    return RunSummary(
        run_id=run_id,
        plan_id=plan_id,
        status=status,
        user=user,
        started_at=started_at,
        finished_at=finished_at,
    )


# events
def event_seq(event: Mapping[str, Any]) -> int:
    seq = event.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise ValueError(f"an event needs an integer seq, not {seq!r}")
    return seq


# sessions: (tenant, principal, session_id, data, created_at, expires_at)
def session_row(tenant: str, entry: SessionEntry) -> tuple[str, str, str, str, str, str]:
    return (
        tenant,
        entry.principal,
        entry.session_id,
        dumps(entry.data),
        timestamp(entry.created_at),
        timestamp(entry.expires_at),
    )


def session_from_row(row: Any) -> SessionEntry:
    principal, session_id, data, created_at, expires_at = row
    return SessionEntry(
        session_id=session_id,
        principal=principal,
        data=loads(data),
        created_at=_required_when(created_at),
        expires_at=_required_when(expires_at),
    )


# API keys: (key_id, tenant, user, scopes, key_hash, created_at, revoked_at)
def api_key_row(entry: ApiKeyEntry) -> tuple[str, str, str | None, str, str, str, str | None]:
    return (
        entry.key_id,
        entry.tenant,
        entry.user,
        dumps(list(entry.scopes)),
        entry.key_hash,
        timestamp(entry.created_at),
        None if entry.revoked_at is None else timestamp(entry.revoked_at),
    )


def api_key_from_row(row: Any) -> ApiKeyEntry:
    key_id, tenant, user, scopes, key_hash, created_at, revoked_at = row
    return ApiKeyEntry(
        key_id=key_id,
        tenant=tenant,
        user=user,
        scopes=tuple(loads(scopes)),
        key_hash=key_hash,
        created_at=_required_when(created_at),
        revoked_at=_when(revoked_at),
    )


# audit: (tenant, at, user, action, tool, run_id, task_id, detail)
def audit_row(
    tenant: str, entry: AuditEntry
) -> tuple[str, str, str | None, str, str | None, str | None, str | None, str]:
    return (
        tenant,
        timestamp(entry.at),
        entry.user,
        entry.action,
        entry.tool,
        entry.run_id,
        entry.task_id,
        dumps(entry.detail),
    )


def audit_from_row(row: Any) -> AuditEntry:
    at, user, action, tool, run_id, task_id, detail = row
    return AuditEntry(
        at=_required_when(at),
        user=user,
        action=action,
        tool=tool,
        run_id=run_id,
        task_id=task_id,
        detail=loads(detail),
    )
