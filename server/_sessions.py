"""planexec sessions: whose tools a request sees, kept in the store (DESIGN §6).

A session is keyed by (tenant, principal, session id) — never by the id alone, so a
guessed id of another principal opens a fresh, empty session of one's own. The id comes
from, in order: the ``Mcp-Session-Id`` header (older clients over HTTP), the
``x-planexec-session`` header, the ``session`` argument of a meta-tool or
``_meta["planexec/session"]``, else ``default`` (one default session per principal).

What a session adds to the server's tools — upstream MCP servers it connected, HTTP
endpoints it registered — is stored with the session (``SessionEntry.data``, with a
``revision`` counter and a TTL refreshed on use), so any replica sharing the store can
serve it: a replica that meets a session whose stored revision differs from what it
holds (or that it never saw) rebuilds the live part (connections) from the stored data.

The live part of a session in this process (:class:`LiveSession`): its overlay catalog,
one keeper task per open source (in the server's task group, so a connection outlives
the request that made it), and the channels that notify this session alone when its
tools change: the older-era connections that used it (``tools/list_changed``) and a
subscription bus for 2026-07-28 ``subscriptions/listen`` streams.

Replicas sharing a Redis store tell each other of every change they commit
(``RedisSessionChanges``): a replica serving the same session rebuilds it from the store
and notifies the clients it holds, so a client listening on one replica hears of tools
another replica added. Without Redis only this process's clients are told.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import anyio
from anyio.abc import TaskGroup, TaskStatus
from mcp.server import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged

from planexec.registry import Caller, Catalog, LayeredView, Policy, ResultCache, ToolSource, ToolSpec
from planexec.store import NotFound, RedisSessionChanges, SessionChange, SessionEntry, Store

from ._auth import Principal
from ._mcp_errors import ErrorCode, ServerError

__all__ = ["LiveSession", "SessionKey", "Sessions", "session_id_of"]

logger = logging.getLogger("planexec.server")

DEFAULT_SESSION = "default"
MODERN_ERA = "2026-07-28"
_SESSION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_ALIAS = re.compile(r"^[a-zA-Z0-9-]{1,24}$")
_RETRY_FAILED_S = 5.0


class SessionSources(Protocol):
    """How sessions make the sources they add at run time (``_session_sources`` builds
    them from the registry's upstream MCP and HTTP sources and the host allow-list)."""

    def check_url(self, url: str) -> None:
        """Raise ValueError (with a message saying why) for a URL the server may not reach."""
        ...

    def mcp(self, alias: str, url: str, on_change: Callable[[], Awaitable[None]]) -> ToolSource:
        """An upstream MCP server over streamable HTTP, tools named ``alias__tool``; an
        async context manager that connects on entry."""
        ...

    def http(self, alias: str, endpoints: list[dict[str, Any]]) -> ToolSource:
        """HTTP endpoints (``register_tool`` arguments as stored); an async context manager."""
        ...


@dataclass(frozen=True, slots=True)
class SessionKey:
    tenant: str
    principal: str
    session_id: str


def principal_key(principal: Principal) -> str:
    """Who owns a session inside a tenant: the user, else the token's client id."""
    if principal.user:
        return f"user:{principal.user}"
    return f"client:{principal.client_id}" if principal.client_id else "anonymous"


def _headers(ctx: ServerRequestContext[Any, Any]) -> Mapping[str, str]:
    headers = getattr(ctx.request, "headers", None)
    return headers if headers is not None else {}


def session_id_of(ctx: ServerRequestContext[Any, Any], explicit: str | None = None) -> str:
    """The planexec session id of this request (order in the module docstring)."""
    headers = _headers(ctx)
    meta: Mapping[str, Any] = ctx.meta or {}
    for candidate in (
        headers.get("mcp-session-id"),
        headers.get("x-planexec-session"),
        explicit,
        meta.get("planexec/session"),
    ):
        if candidate:
            if not isinstance(candidate, str) or not _SESSION_ID.match(candidate):
                raise ServerError(
                    ErrorCode.INVALID_ARGUMENTS,
                    "a session id is 1-128 characters of letters, digits and ._:-",
                    "send another x-planexec-session value (or none, for the default session)",
                )
            return candidate
    return DEFAULT_SESSION


def is_legacy(ctx: ServerRequestContext[Any, Any]) -> bool:
    """An older-era request (its connection can receive server notifications)."""
    return bool(ctx.protocol_version) and ctx.protocol_version < MODERN_ERA


@dataclass(eq=False)
class LiveSession:
    """What this process holds of one session (see the module docstring)."""

    key: SessionKey
    revision: int = -1
    data: dict[str, Any] = field(default_factory=dict)
    overlay: Catalog = field(default_factory=Catalog)
    keepers: dict[str, tuple[ToolSource, anyio.Event, object]] = field(default_factory=dict)
    """alias -> (the open source, the event that closes it, what it was made from: the
    URL or the endpoints, as stored)."""
    failed: dict[str, float] = field(default_factory=dict)
    peers: dict[str, ServerSession] = field(default_factory=dict)
    bus: InMemorySubscriptionBus = field(default_factory=InMemorySubscriptionBus)
    lock: anyio.Lock = field(default_factory=anyio.Lock)
    last_used: float = 0.0

    def __post_init__(self) -> None:
        self.listen = ListenHandler(self.bus, max_subscriptions=64)

    def upstreams(self) -> dict[str, str]:
        upstreams: dict[str, str] = self.data.get("upstreams") or {}
        return upstreams

    def endpoints(self) -> list[dict[str, Any]]:
        endpoints: list[dict[str, Any]] = self.data.get("http_tools") or []
        return endpoints


class SessionToolError(ServerError):
    """connect_server / register_tool refused (bad alias, host not allowed, name clash)."""


async def _keep(source: ToolSource, *, task_status: TaskStatus[anyio.Event]) -> None:
    """Hold ``source`` open until the returned event is set (or the server stops)."""
    stop = anyio.Event()
    async with source:  # type: ignore[attr-defined]  # upstream sources are context managers
        task_status.started(stop)
        await stop.wait()


HTTP_ALIAS = "http"


class Sessions:
    """The sessions this process serves; built in the server's lifespan."""

    def __init__(
        self,
        store: Store,
        base: Catalog,
        task_group: TaskGroup,
        *,
        policy: Policy,
        sources: SessionSources,
        cache: ResultCache | None = None,
        ttl_s: float = 3600.0,
        reserved_names: frozenset[str] = frozenset(),
        clock: Callable[[], float] = anyio.current_time,
        changes: RedisSessionChanges | None = None,
    ) -> None:
        self.store = store
        self.base = base
        self.policy = policy
        self.sources = sources
        self.cache = cache
        self.ttl_s = ttl_s
        self._task_group = task_group
        self._reserved = reserved_names
        self._clock = clock
        self._changes = changes
        self._live: dict[SessionKey, LiveSession] = {}
        self._next_sweep = 0.0
        self._unsubscribe = base.subscribe(self.notify_all)

    # --- lookup --------------------------------------------------------------------
    def key_of(
        self, ctx: ServerRequestContext[Any, Any], principal: Principal, explicit: str | None = None
    ) -> SessionKey:
        return SessionKey(principal.tenant, principal_key(principal), session_id_of(ctx, explicit))

    async def open(self, key: SessionKey) -> LiveSession:
        """The live session for ``key``, created in the store on first use, its TTL
        refreshed, its overlay in step with the stored revision (if another replica
        changed it, its clients here are told). Live sessions of this
        process unused for longer than the TTL are let go first (their connections
        closed: the stored session, if it still lives, reopens them when used again)."""
        now = self._clock()
        self._let_go_idle(now)
        live = self._live.get(key)
        if live is None:
            live = self._live.setdefault(key, LiveSession(key))
        live.last_used = now
        async with live.lock:
            entry = await self._load_or_create(key)
            stored = int(entry.data.get("revision", 0))
            behind = live.revision >= 0 and stored != live.revision  # changed by another replica
            if stored != live.revision or self._retry_due(live):
                await self._sync(live, dict(entry.data))
        if behind:  # its clients here are told, however this process learnt of it
            await self.notify(live)
        return live

    async def _load_or_create(self, key: SessionKey) -> SessionEntry:
        now = datetime.now(UTC)
        try:
            entry = await self.store.get_session(key.tenant, key.principal, key.session_id)
        except NotFound:
            entry = SessionEntry(
                session_id=key.session_id,
                principal=key.principal,
                data={"revision": 0, "upstreams": {}, "http_tools": []},
                created_at=now,
                expires_at=now + timedelta(seconds=self.ttl_s),
            )
            await self.store.put_session(key.tenant, entry)
            return entry
        if (entry.expires_at - now).total_seconds() < self.ttl_s / 2:
            entry = entry.model_copy(update={"expires_at": now + timedelta(seconds=self.ttl_s)})
            await self.store.put_session(key.tenant, entry)
        return entry

    def _retry_due(self, live: LiveSession) -> bool:
        now = self._clock()
        return any(now - at >= _RETRY_FAILED_S for at in live.failed.values())

    # --- the live overlay ----------------------------------------------------------
    async def _sync(self, live: LiveSession, data: dict[str, Any]) -> None:
        """Open and close sources until the live overlay matches ``data``."""
        live.data = data
        live.revision = int(data.get("revision", 0))
        wanted: dict[str, tuple[object, Callable[[], ToolSource]]] = {
            alias: (url, self._upstream_factory(live, alias, url)) for alias, url in live.upstreams().items()
        }
        if live.endpoints():
            endpoints = live.endpoints()
            wanted[HTTP_ALIAS] = (endpoints, lambda: self.sources.http(HTTP_ALIAS, endpoints))
        for alias, (_, _, made_from) in list(live.keepers.items()):
            if alias not in wanted or wanted[alias][0] != made_from:  # gone, or made from other data
                self._close_source(live, alias)
        live.failed.clear()
        for alias, (made_from, factory) in wanted.items():
            if alias in live.keepers:
                continue
            try:
                await self._open_source(live, alias, factory(), made_from)
            except Exception as error:  # one unreachable upstream must not lose the session
                logger.warning("session %s: cannot open %s: %s", live.key.session_id, alias, error)
                live.failed[alias] = self._clock()
        self._rebuild_overlay(live)

    def _upstream_factory(self, live: LiveSession, alias: str, url: str) -> Callable[[], ToolSource]:
        async def changed() -> None:
            self._rebuild_overlay(live)
            await self.notify(live)

        return lambda: self.sources.mcp(alias, url, changed)

    async def _open_source(
        self, live: LiveSession, alias: str, source: ToolSource, made_from: object
    ) -> None:
        stop: anyio.Event = await self._task_group.start(_keep, source)
        live.keepers[alias] = (source, stop, made_from)

    def _close_source(self, live: LiveSession, alias: str) -> None:
        _, stop, _ = live.keepers.pop(alias)
        stop.set()

    def _rebuild_overlay(self, live: LiveSession) -> None:
        overlay = Catalog()
        for alias, (source, _, _) in live.keepers.items():
            clash = self._clashes(source.specs())
            if clash:
                logger.warning("session %s: %s clashes with server tools", live.key.session_id, alias)
                continue
            overlay.add_source(source)
        live.overlay = overlay

    def _clashes(self, specs: list[ToolSpec]) -> list[str]:
        return sorted(s.name for s in specs if self.base.get(s.name) is not None or s.name in self._reserved)

    # --- what a caller sees --------------------------------------------------------
    def view(self, live: LiveSession, principal: Principal) -> LayeredView:
        caller = Caller(principal.tenant, principal.user, principal.scopes)
        scope = f"session:{live.key.principal}:{live.key.session_id}"
        return LayeredView(
            self.base, caller, overlay=live.overlay, overlay_scope=scope, policy=self.policy, cache=self.cache
        )

    def attach(self, ctx: ServerRequestContext[Any, Any], live: LiveSession) -> None:
        """Remember an older-era connection using ``live``, to notify it of changes."""
        if is_legacy(ctx):
            live.peers[_headers(ctx).get("mcp-session-id") or "stdio"] = ctx.session

    async def notify_all(self) -> None:
        """The server's own tools changed (a configured upstream announced it): every
        session served here is told, after its overlay is checked against them again."""
        for live in list(self._live.values()):
            self._rebuild_overlay(live)
            await self.notify(live)

    async def notify(self, live: LiveSession) -> None:
        """Tell this session's clients (and nobody else) that its tools changed."""
        for peer_id, peer in list(live.peers.items()):
            try:
                await peer.send_tool_list_changed()
            except Exception:  # a gone connection: forget it
                live.peers.pop(peer_id, None)
        await live.bus.publish(ToolsListChanged())

    # --- changes -------------------------------------------------------------------
    async def _commit(self, live: LiveSession, update: Callable[[dict[str, Any]], None]) -> None:
        """Apply ``update`` to the stored data (revision + 1), resync and store it; the
        caller holds ``live.lock`` and notifies afterwards."""
        entry = await self._load_or_create(live.key)
        data = dict(entry.data)
        update(data)
        data["revision"] = int(data.get("revision", 0)) + 1
        await self._sync(live, data)
        await self.store.put_session(live.key.tenant, entry.model_copy(update={"data": data}))
        if self._changes is not None:
            key = live.key
            await self._changes.publish(key.tenant, key.principal, key.session_id, live.revision)

    async def apply_change(self, change: SessionChange) -> None:
        """Another replica changed a session's tools: if this process serves that session
        and is behind, it rebuilds the session from the store and tells its clients."""
        live = self._live.get(SessionKey(change.tenant, change.principal, change.session_id))
        if live is None:
            return
        async with live.lock:
            if live.revision >= change.revision:
                return  # in step already: a request here met the new revision and told them
            try:
                entry = await self.store.get_session(change.tenant, change.principal, change.session_id)
            except NotFound:
                return
            await self._sync(live, dict(entry.data))
        await self.notify(live)

    async def connect_server(self, live: LiveSession, alias: str, url: str) -> list[ToolSpec]:
        """Connect the upstream MCP server at ``url`` as ``alias`` (its tools become
        ``alias__tool``); only to allow-listed hosts. Returns the tools it brought."""
        if not _ALIAS.match(alias) or alias == HTTP_ALIAS:
            raise SessionToolError(
                ErrorCode.INVALID_ARGUMENTS,
                f"alias {alias!r} is not usable",
                f"use 1-24 letters, digits or '-' (not {HTTP_ALIAS!r})",
            )
        self._check_host(url)
        async with live.lock:
            if alias in live.upstreams():
                raise SessionToolError(
                    ErrorCode.INVALID_ARGUMENTS,
                    f"alias {alias!r} is already connected in this session",
                    "disconnect_server it first, or choose another alias",
                )
            try:
                await self._open_source(live, alias, self._upstream_factory(live, alias, url)(), url)
            except Exception as error:
                raise SessionToolError(
                    ErrorCode.UPSTREAM_UNAVAILABLE,
                    f"cannot connect to {url}: {error}",
                    "check the URL and that the server is up",
                ) from None
            source, _, _ = live.keepers[alias]
            clash = self._clashes(source.specs())
            if clash:
                self._close_source(live, alias)
                raise SessionToolError(
                    ErrorCode.INVALID_ARGUMENTS,
                    f"{alias} would bring tools named like this server's: {', '.join(clash)}",
                    "choose another alias",
                )

            def update(data: dict[str, Any]) -> None:
                data["upstreams"] = {**(data.get("upstreams") or {}), alias: url}

            await self._commit(live, update)
            specs = source.specs()
        await self.notify(live)
        return specs

    async def disconnect_server(self, live: LiveSession, alias: str) -> None:
        async with live.lock:
            if alias not in live.upstreams():
                raise SessionToolError(
                    ErrorCode.NOT_FOUND,
                    f"no upstream {alias!r} in this session",
                    "connect_server lists what it connected; tools/list shows the tools",
                )

            def update(data: dict[str, Any]) -> None:
                data["upstreams"] = {k: v for k, v in (data.get("upstreams") or {}).items() if k != alias}

            await self._commit(live, update)
        await self.notify(live)

    async def register_tool(self, live: LiveSession, endpoint: dict[str, Any]) -> list[ToolSpec]:
        """Add (or replace) the HTTP endpoint ``endpoint`` (register_tool's arguments);
        only on allow-listed hosts. Returns the session's HTTP tools."""
        name = str(endpoint["name"])
        self._check_host(str(endpoint["url"]))
        if self._clashes([ToolSpec(name=name)]) or any(
            spec.name == name and spec.source != f"http:{HTTP_ALIAS}" for spec in live.overlay.specs()
        ):
            raise SessionToolError(
                ErrorCode.INVALID_ARGUMENTS, f"a tool named {name!r} exists already", "choose another name"
            )
        async with live.lock:

            def update(data: dict[str, Any]) -> None:
                others = [e for e in data.get("http_tools") or [] if e.get("name") != name]
                data["http_tools"] = [*others, endpoint]

            await self._commit(live, update)
            specs = live.keepers[HTTP_ALIAS][0].specs() if HTTP_ALIAS in live.keepers else []
        await self.notify(live)
        return specs

    def _check_host(self, url: str) -> None:
        try:
            self.sources.check_url(url)
        except ValueError as error:
            raise SessionToolError(
                ErrorCode.HOST_NOT_ALLOWED,
                str(error),
                "the server allows only hosts given by planexec serve --allow-upstream HOST[:PORT]",
            ) from None

    # --- lifecycle -----------------------------------------------------------------
    def _let_go_idle(self, now: float) -> None:
        """At most once a minute (or TTL): close the live sessions idle past the TTL."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + min(60.0, self.ttl_s)
        expired = now - self.ttl_s
        idle = [k for k, live in self._live.items() if live.last_used < expired and not live.lock.locked()]
        for key in idle:
            live = self._live.pop(key)
            for alias in list(live.keepers):
                self._close_source(live, alias)

    def close_all(self) -> None:
        self._unsubscribe()
        for live in self._live.values():
            for alias in list(live.keepers):
                self._close_source(live, alias)
        self._live.clear()

