"""What the MCP server is built from: one frozen :class:`Services` object.

The server holds wiring, not logic: the tool catalog, the store (opened and closed by
the server's lifespan), the executor's and the validator's limits, the server's own
limits, and a function that says who the current request comes from. Everything is
built at the edge (the CLI, a test) and handed in.

Identity: stdio and unauthenticated loopback HTTP act for one configured principal
(:func:`configured_identity`); authenticated HTTP maps the bearer token of the request
to a principal (:func:`token_identity`, both protocol eras).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mcp.server import ServerRequestContext
from mcp.server.auth.middleware.auth_context import get_access_token

from planexec.executor import Clock
from planexec.executor import Limits as ExecutorLimits
from planexec.planner import Limits as PlanLimits
from planexec.registry import CacheBackend, Catalog, Policy
from planexec.store import RedisSessionChanges, Store

from ._auth import Principal, principal_from_token
from ._mcp_errors import Unauthenticated
from ._mcp_runs import RunRegistry
from ._planner_config import PlannerConfig
from ._session_sources import AllowListedSources
from ._sessions import Sessions, SessionSources

__all__ = [
    "AppState",
    "Principal",
    "PrincipalResolver",
    "ServerLimits",
    "Services",
    "configured_identity",
    "token_identity",
]


PrincipalResolver = Callable[[ServerRequestContext[Any, Any]], Principal]
"""Maps the request being served to its principal."""


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Limits of the MCP surface (the executor's and the validator's are separate).

    ``max_request_bytes`` bounds one request: HTTP answers 413 above it, stdio a
    JSON-RPC error. ``max_runs_per_tenant`` counts the runs in progress in this server
    process. ``cancel_wait_s`` is how long ``cancel_run`` waits for the run to finish
    (compensations included) before answering with the run as it stands;
    ``shutdown_grace_s`` how long shutdown lets cancelled runs finish before it stops
    them hard.
    """

    max_request_bytes: int = 4 << 20
    max_runs_per_tenant: int = 16
    cancel_wait_s: float = 10.0
    shutdown_grace_s: float = 10.0

    def __post_init__(self) -> None:
        if self.max_request_bytes < 1 or self.max_runs_per_tenant < 1:
            raise ValueError("server limits must be at least 1")
        if self.cancel_wait_s < 0 or self.shutdown_grace_s < 0:
            raise ValueError("server wait times cannot be negative")


@dataclass(frozen=True, slots=True)
class Services:
    """Everything the server wires together; built once, at the edge."""

    catalog: Catalog
    store: Store
    principal_of: PrincipalResolver
    executor_limits: ExecutorLimits = field(default_factory=ExecutorLimits)
    plan_limits: PlanLimits = field(default_factory=PlanLimits)
    limits: ServerLimits = field(default_factory=ServerLimits)
    clock: Clock | None = None
    policy: Policy = field(default_factory=Policy)
    session_sources: SessionSources = field(default_factory=lambda: AllowListedSources(()))
    """Where sessions may add tools from: by default no host at all."""
    session_ttl_s: float = 3600.0
    result_cache: CacheBackend | None = None
    """Where cached tool results live: None for this process's memory (the Redis store
    gives a shared one, see ``planexec serve``)."""
    session_changes: RedisSessionChanges | None = None
    """How replicas sharing a Redis store tell each other of session changes (None: this
    process alone is told)."""
    planner: PlannerConfig = field(default_factory=PlannerConfig)


@dataclass(frozen=True, slots=True)
class AppState:
    """What the server's lifespan hands every handler: the services (store open), the
    runs in progress and the sessions served."""

    services: Services
    runs: RunRegistry
    sessions: Sessions


def configured_identity(tenant: str, user: str | None) -> PrincipalResolver:
    """Every request acts for (tenant, user) from the configuration (stdio, no-auth HTTP)."""
    principal = Principal(tenant=tenant, user=user, scopes=frozenset())

    def principal_of(ctx: ServerRequestContext[Any, Any]) -> Principal:
        return principal

    return principal_of


def token_identity(ctx: ServerRequestContext[Any, Any]) -> Principal:
    """The principal of the bearer token the HTTP auth middleware verified."""
    token = get_access_token()
    if token is None:
        raise Unauthenticated("this request carries no verified access token")
    try:
        return principal_from_token(token)
    except ValueError as error:
        raise Unauthenticated(str(error)) from None
