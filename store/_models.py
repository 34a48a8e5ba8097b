"""What the store keeps. Records cross the store as JSON documents (``dict``): the store
sits below the executor and planner (DESIGN §1) and must not know their models.

Every entry belongs to a tenant; ``user`` is the principal that made it (erasure and
export go by (tenant, user)). Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ApiKeyEntry",
    "AttemptEntry",
    "attempts_of",
    "AuditEntry",
    "PlanEntry",
    "RunSummary",
    "SessionEntry",
]


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlanEntry(_Entry):
    """A stored plan with its provenance (who, when, which planner model, prompt hash...)."""

    plan_id: str
    user: str | None = None
    created_at: datetime
    plan: dict[str, Any]
    provenance: dict[str, Any] = Field(default_factory=dict)


class RunSummary(_Entry):
    """One line of ``runs list``."""

    run_id: str
    plan_id: str
    status: str
    user: str | None = None
    started_at: str | None = None
    finished_at: str | None = None


class AttemptEntry(_Entry):
    """One attempt of a task or of its compensation (``kind``), as the run record has it."""

    run_id: str
    task_id: str
    kind: str = "task"  # "task" | "compensation"
    n: int
    arguments: Any = None
    output: Any = None
    error: dict[str, Any] | None = None
    started_at: str | None = None
    finished_at: str | None = None


class SessionEntry(_Entry):
    """A planexec session (DESIGN §6): keyed by (tenant, principal, session id), never by
    the session id alone. ``data`` holds the session's tool overlay and settings."""

    session_id: str
    principal: str
    data: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    expires_at: datetime


class ApiKeyEntry(_Entry):
    """An API key: only its hash is kept; the secret is shown once at creation."""

    key_id: str
    tenant: str
    user: str | None = None
    scopes: tuple[str, ...] = ()
    key_hash: str
    created_at: datetime
    revoked_at: datetime | None = None


class AuditEntry(_Entry):
    """An audit record of a tool call (or another security-relevant action)."""

    at: datetime
    user: str | None = None
    action: str
    tool: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


def attempts_of(record: dict[str, Any]) -> list[AttemptEntry]:
    """The attempts of a run record (DESIGN §5), in the record's task order: each task's
    own attempts by ``n``, then its compensation's by ``n``. Both backends derive
    ``list_attempts`` from the stored record with it (the record holds every attempt)."""
    run_id = str(record["run_id"])
    entries: list[AttemptEntry] = []
    tasks: dict[str, Any] = record.get("tasks") or {}
    for task_id, task in tasks.items():
        groups = [("task", task.get("attempts") or [])]
        compensation = task.get("compensation")
        if compensation:
            groups.append(("compensation", compensation.get("attempts") or []))
        for kind, attempts in groups:
            for attempt in sorted(attempts, key=lambda attempt: int(attempt["n"])):
                entries.append(
                    AttemptEntry(
                        run_id=run_id,
                        task_id=task_id,
                        kind=kind,
                        n=attempt["n"],
                        arguments=attempt.get("arguments"),
                        output=attempt.get("output"),
                        error=attempt.get("error"),
                        started_at=attempt.get("started_at"),
                        finished_at=attempt.get("finished_at"),
                    )
                )
    return entries
