"""The one async Store protocol (DESIGN §9); SQLite and Redis implement it and pass the
same contract tests (``tests/store/test_contract.py``).

Rules every backend keeps:

- Every call that reads or writes tenant data takes ``tenant`` and touches only that
  tenant's data; an item of another tenant is :class:`NotFound`, never Forbidden. The
  single identity lookup, :meth:`Store.get_api_key` by key id, is how a request finds its
  tenant in the first place.
- ``save_run`` upserts the whole run record (a JSON document shaped as DESIGN §5); the
  run's attempts are the record's (``list_attempts`` derives them from the stored
  record). ``add_events`` appends events in ``seq`` order and ignores an event whose
  ``seq`` is already stored (so a retried batch does no harm). Events and attempts of
  a run are readable in order.
- A session past ``expires_at`` is NotFound. Sessions are keyed by (tenant, principal,
  session id).
- A lost backend raises :class:`StoreUnavailable`; it never hangs longer than the
  backend's own timeouts.
- A store is an async context manager: ``async with open_store(url) as store: ...``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, Self

from ._models import ApiKeyEntry, AttemptEntry, AuditEntry, PlanEntry, RunSummary, SessionEntry

__all__ = ["Store"]


class Store(Protocol):
    url: str

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    # plans
    async def save_plan(self, tenant: str, entry: PlanEntry) -> None:
        """Insert the plan, or replace the tenant's plan with the same ``plan_id``."""
        ...

    async def get_plan(self, tenant: str, plan_id: str) -> PlanEntry: ...

    async def list_plans(self, tenant: str, *, limit: int = 50) -> list[PlanEntry]:
        """Newest first (by ``created_at``, then ``plan_id``, both descending)."""
        ...

    # runs, attempts, events
    async def save_run(self, tenant: str, record: Mapping[str, Any], *, user: str | None = None) -> None:
        """Upsert; ``record`` carries at least ``run_id``, ``plan_id``, ``status``. A later
        save without ``user`` keeps the user stored before. A :class:`JsonDocument` is
        stored as its text (its ``head`` holds those fields and ``started_at``,
        ``finished_at``)."""
        ...

    async def get_run(self, tenant: str, run_id: str) -> dict[str, Any]: ...

    async def list_runs(self, tenant: str, *, status: str | None = None, limit: int = 50) -> list[RunSummary]:
        """Newest first (by ``started_at``, then ``run_id``, both descending); ``status``
        filters before ``limit`` applies."""
        ...

    async def list_attempts(self, tenant: str, run_id: str) -> list[AttemptEntry]:
        """Tasks in the record's order; per task its attempts, then its compensation's
        attempts, each by ``n``. NotFound for a run this tenant has not saved."""
        ...

    async def add_events(self, tenant: str, run_id: str, events: Sequence[Mapping[str, Any]]) -> None:
        """Each event has an integer ``seq`` (in the ``head`` of a :class:`JsonDocument`;
        a :class:`JsonEvents` batch gives its seqs beside the texts); encoded events are
        stored as their text. NotFound for a run this tenant has not saved."""
        ...

    async def list_events(
        self, tenant: str, run_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Events with ``seq > after_seq``, ascending, at most ``limit``. NotFound for a run
        this tenant has not saved."""
        ...

    # sessions
    async def put_session(self, tenant: str, entry: SessionEntry) -> None:
        """Insert, or replace the session with the same (principal, session id)."""
        ...

    async def get_session(self, tenant: str, principal: str, session_id: str) -> SessionEntry: ...

    async def delete_session(self, tenant: str, principal: str, session_id: str) -> None:
        """NotFound when there is no such session (expired ones included)."""
        ...

    # API keys
    async def add_api_key(self, entry: ApiKeyEntry) -> None:
        """Conflict when ``key_id`` exists (in any tenant: key ids are looked up alone)."""
        ...

    async def get_api_key(self, key_id: str) -> ApiKeyEntry: ...

    async def list_api_keys(self, tenant: str) -> list[ApiKeyEntry]:
        """Oldest first (by ``created_at``, then ``key_id``)."""
        ...

    async def revoke_api_key(self, tenant: str, key_id: str) -> None:
        """Set ``revoked_at`` to now; revoking again keeps the first time."""
        ...

    # audit
    async def add_audit(self, tenant: str, entries: Sequence[AuditEntry]) -> None: ...

    async def list_audit(self, tenant: str, *, user: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """Newest first: the most recently added entry first."""
        ...

    # privacy
    async def export_user(self, tenant: str, user: str) -> dict[str, Any]:
        """Everything stored for (tenant, user), as JSON-ready data::

            {"tenant", "user", "plans": [PlanEntry], "runs": [{"record", "attempts",
             "events"}], "sessions": [SessionEntry], "api_keys": [ApiKeyEntry without
             key_hash], "audit": [AuditEntry]}

        Entries as ``model_dump(mode="json")``; a run's attempts and events in their
        ``list_*`` order, the other lists in no promised order."""
        ...

    async def erase_user(self, tenant: str, user: str) -> dict[str, int]:
        """Delete everything of (tenant, user); return counts per kind: ``plans``,
        ``runs`` (their attempts and events go with them), ``sessions``, ``api_keys``,
        ``audit``."""
        ...
