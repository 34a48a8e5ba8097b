"""Session changes told to every replica sharing a Redis store (pub/sub).

A replica that changes a session's tools publishes a :class:`SessionChange` (tenant,
principal, session id, the new revision, and the publishing replica's ``origin``) on the
channel :data:`CHANNEL`; every replica following it hears the change and tells the
clients of that session it serves. A change names a session and a revision, never its
tools or data (those are read from the store, tenant-scoped as ever).

Pub/sub is best effort: a change published while a replica's subscription is down is
not heard there, so that replica's clients are not told; the replica still serves the
session's new tools on its next request (every request checks the stored revision).
:meth:`RedisSessionChanges.follow` subscribes again after a lost connection, with
backoff, until it is cancelled. On a Redis Cluster the channel reaches every node.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import NamedTuple, NoReturn, Self

import anyio
import redis.exceptions
from anyio import TASK_STATUS_IGNORED
from anyio.abc import TaskStatus

from ._redis_client import RedisClient, connect

__all__ = ["CHANNEL", "RedisSessionChanges", "SessionChange"]

logger = logging.getLogger("planexec.store")

CHANNEL = "planexec:session-changes"
_BACKOFF_S = (0.05, 0.2, 1.0, 5.0)
_TEXT_FIELDS = ("tenant", "principal", "session_id", "origin")


class SessionChange(NamedTuple):
    tenant: str
    principal: str
    session_id: str
    revision: int
    origin: str
    """The replica that made the change (it does not need telling)."""

    def encode(self) -> str:
        return json.dumps(self._asdict(), separators=(",", ":"))

    @classmethod
    def decode(cls, text: str | bytes) -> SessionChange | None:
        """The change a message holds; None (logged) for anything else."""
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if (
            not isinstance(data, dict)
            or set(data) != set(cls._fields)
            or not all(isinstance(data[name], str) for name in _TEXT_FIELDS)
            or type(data["revision"]) is not int
        ):
            logger.warning("ignored a malformed session change: %.200r", text)
            return None
        return cls(**data)


class RedisSessionChanges:
    """Publishes and follows session changes on the Redis at ``url`` (any URL the Redis
    store takes). An async context manager; ``origin`` names this replica."""

    def __init__(self, url: str, *, socket_timeout: float = 5.0, connect_timeout: float = 2.0) -> None:
        self.url = url
        self.origin = uuid.uuid4().hex
        self._socket_timeout = socket_timeout
        self._connect_timeout = connect_timeout
        self._client: RedisClient | None = None
        self._listener: RedisClient | None = None

    async def __aenter__(self) -> Self:
        self._client = connect(
            self.url, socket_timeout=self._socket_timeout, socket_connect_timeout=self._connect_timeout
        )
        # The subscription waits for messages as long as there are none: no read timeout,
        # a health check now and then to notice a server that is gone.
        self._listener = connect(
            self.url, socket_connect_timeout=self._connect_timeout, health_check_interval=30
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for client in (self._client, self._listener):
            if client is not None:
                with anyio.CancelScope(shield=True):
                    await client.aclose()
        self._client = self._listener = None

    def _open(self, client: RedisClient | None) -> RedisClient:
        if client is None:
            raise RuntimeError("RedisSessionChanges is used outside 'async with'")
        return client

    async def publish(self, tenant: str, principal: str, session_id: str, revision: int) -> None:
        """Tell the other replicas; a lost Redis is logged, not raised (best effort)."""
        change = SessionChange(tenant, principal, session_id, revision, self.origin)
        try:
            await self._open(self._client).publish(CHANNEL, change.encode())
        except (redis.exceptions.RedisError, OSError) as error:
            logger.warning("session change not published (the other replicas will not be told): %s", error)

    async def follow(
        self,
        on_change: Callable[[SessionChange], Awaitable[None]],
        *,
        task_status: TaskStatus[None] = TASK_STATUS_IGNORED,
    ) -> NoReturn:
        """Call ``on_change`` with every change another replica publishes, in order, until
        cancelled; subscribes again (with backoff) whenever the connection is lost.
        ``on_change`` should not raise: what it raises is logged and the next change
        comes. Started with ``task_group.start``, it returns once first subscribed (or
        once the first try failed: it goes on trying)."""
        failures = 0
        while True:
            try:
                async with self._open(self._listener).pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    failures = 0
                    task_status.started()
                    task_status = TASK_STATUS_IGNORED
                    async for message in pubsub.listen():
                        change = SessionChange.decode(message["data"])
                        if change is None or change.origin == self.origin:
                            continue
                        try:
                            await on_change(change)
                        except Exception:
                            logger.exception("a session change could not be applied")
            except (redis.exceptions.RedisError, OSError) as error:
                delay = _BACKOFF_S[min(failures, len(_BACKOFF_S) - 1)]
                failures += 1
                logger.warning("session changes: subscription lost (%s); again in %.2f s", error, delay)
                task_status.started()
                task_status = TASK_STATUS_IGNORED
                await anyio.sleep(delay)
            else:  # the server closed the subscription
                await anyio.sleep(_BACKOFF_S[0])
