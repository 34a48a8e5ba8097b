"""The Redis key layout: every key of a tenant carries the hash tag ``{t:<tenant>}``, so
one tenant's keys share one Redis Cluster slot (multi-key transactions and scripts stay
legal there). API keys are the one exception: the identity lookup by key id is global.

::

    planexec:{t:T}:plan:P              string  PlanEntry JSON
    planexec:{t:T}:plans               zset    plan ids, score created_at (µs since epoch)
    planexec:{t:T}:run:R               hash    record, summary (RunSummary JSON without user),
                                               user, user_key, status_key
    planexec:{t:T}:run:R:attempts      string  (no longer written: attempts are read from the
                                               record; save_run deletes an old one)
    planexec:{t:T}:run:R:events        zset    event JSON, score seq (one member per seq)
    planexec:{t:T}:runs                zset    run ids, score started_at (µs); ties by run id
    planexec:{t:T}:runs:status:S       zset    the same, one per status
    planexec:{t:T}:session:U:S         string  SessionEntry JSON, expiring at expires_at
    planexec:{t:T}:apikeys             set     key ids of the tenant
    planexec:{t:T}:audit               zset    audit members, score insertion order
    planexec:{t:T}:audit:seq           string  the insertion counter
    planexec:{t:T}:user:U:plans        set     plan ids of (T, U)     } what export_user and
    planexec:{t:T}:user:U:runs         set     run ids of (T, U)      } erase_user read, so
    planexec:{t:T}:user:U:sessions     set     session keys of (T, U) } neither scans the
    planexec:{t:T}:user:U:audit        zset    audit members of (T,U) } key space
    planexec:apikey:K                  string  ApiKeyEntry JSON (global: the identity lookup)

``T``, ``P``, ``R``, ``S``, ``U`` and ``K`` are percent-encoded (everything but
``A-Za-z0-9_.-~``), so no tenant or id can contain ``{``, ``}`` or ``:``: the hash tag is
always exactly the tenant, and no crafted id names another item's key. Members of sets
and sorted sets are raw ids: they never form key names.
"""

from __future__ import annotations

from urllib.parse import quote

__all__ = ["APIKEY_PREFIX", "TenantKeys", "apikey_key", "encode"]

APIKEY_PREFIX = "planexec:apikey:"


def encode(part: str) -> str:
    """Percent-encode one key component (injective: ``%`` itself is encoded)."""
    return quote(part, safe="")


def apikey_key(key_id: str) -> str:
    return APIKEY_PREFIX + encode(key_id)


class TenantKeys:
    """The key names of one tenant."""

    __slots__ = ("prefix",)

    def __init__(self, tenant: str) -> None:
        self.prefix = f"planexec:{{t:{encode(tenant)}}}:"

    def plan(self, plan_id: str) -> str:
        return f"{self.prefix}plan:{encode(plan_id)}"

    @property
    def plans(self) -> str:
        return f"{self.prefix}plans"

    def run(self, run_id: str) -> str:
        return f"{self.prefix}run:{encode(run_id)}"

    def attempts(self, run_id: str) -> str:
        return f"{self.run(run_id)}:attempts"

    def events(self, run_id: str) -> str:
        return f"{self.run(run_id)}:events"

    @property
    def runs(self) -> str:
        return f"{self.prefix}runs"

    def runs_by_status(self, status: str) -> str:
        return f"{self.prefix}runs:status:{encode(status)}"

    def session(self, principal: str, session_id: str) -> str:
        return f"{self.prefix}session:{encode(principal)}:{encode(session_id)}"

    @property
    def apikeys(self) -> str:
        return f"{self.prefix}apikeys"

    @property
    def audit(self) -> str:
        return f"{self.prefix}audit"

    @property
    def audit_seq(self) -> str:
        return f"{self.prefix}audit:seq"

    def user(self, user: str, kind: str) -> str:
        """The index of ``kind`` (plans, runs, sessions, audit) of (tenant, user)."""
        return f"{self.prefix}user:{encode(user)}:{kind}"
