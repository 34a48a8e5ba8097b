"""The SQLite store (the default): one file, through aiosqlite.

The file runs in WAL mode with ``synchronous=NORMAL`` (a power loss may undo the last
commits, a crashed process does not; the file is never corrupted), foreign keys on and a
busy timeout, so several store instances (processes, replicas on one host) can share it:
writers wait for each other up to the timeout, then fail with StoreUnavailable. Opening applies the schema
migrations (:mod:`._sqlite_schema`) and creates the file's directory when missing. The
log is checkpointed into the file mostly from a thread of the store's own, not inside its
writes (:mod:`._sqlite_checkpoint`).

One store holds one connection; an ``anyio.Lock`` gives each call the connection to itself.
Every write is one ``BEGIN IMMEDIATE`` transaction (so a busy file is waited for up front
instead of failing a read-to-write upgrade) that commits or, on any error or cancellation,
rolls back: a call is applied whole or not at all. sqlite errors of an unusable file
(cannot open, not a database, disk full, locked past the timeout) become StoreUnavailable;
constraint and programming errors stay what they are.

Every statement filters by tenant; the one exception is :meth:`SqliteStore.get_api_key`,
the lookup by key id that tells a request its tenant.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from datetime import UTC, datetime
from typing import Any, Self

import aiosqlite
import anyio

from . import _sqlite_privacy as privacy
from . import _sqlite_rows as rows
from ._document import JsonEvents
from ._errors import Conflict, NotFound, StoreUnavailable
from ._models import ApiKeyEntry, AttemptEntry, AuditEntry, PlanEntry, RunSummary, SessionEntry, attempts_of
from ._sqlite_checkpoint import CHECKPOINT_BYTES, Checkpointer
from ._sqlite_schema import migrate

__all__ = ["SqliteStore"]

_PLAN_COLUMNS = "plan_id, user, created_at, plan, provenance"
_SUMMARY_COLUMNS = "run_id, plan_id, status, user, started_at, finished_at"
_SESSION_COLUMNS = "principal, session_id, data, created_at, expires_at"
_API_KEY_COLUMNS = "key_id, tenant, user, scopes, key_hash, created_at, revoked_at"
_AUDIT_COLUMNS = "at, user, action, tool, run_id, task_id, detail"
_NO_LIMIT = -1  # SQLite's LIMIT for "all rows"
_WRITE_BYTES = 8192  # what a write adds to the log besides its texts (pages of rows, indexes)

# Errors that mean the file cannot be used, as opposed to a bug or a violated constraint.
_BUG_ERRORS = (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError, sqlite3.DataError)


class SqliteStore:
    """A Store on one SQLite file (see the module docstring for the guarantees)."""

    def __init__(
        self, path: str, *, url: str, busy_timeout_s: float = 5.0, checkpoint_bytes: int = CHECKPOINT_BYTES
    ) -> None:
        self.path = path
        self.url = url
        self.busy_timeout_s = busy_timeout_s
        self.checkpointer = Checkpointer(path, every_bytes=checkpoint_bytes)
        self._conn: aiosqlite.Connection | None = None
        self._lock = anyio.Lock()

    # lifecycle
    async def __aenter__(self) -> Self:
        with self._unavailable_on_error():
            try:
                await anyio.Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                message = f"SQLite store {self.path}: cannot create its directory: {exc}"
                raise StoreUnavailable(message) from exc
            # aiosqlite does not wait for its worker thread when opening fails, and the thread
            # may then report to a closed event loop (omnilib/aiosqlite#241): opening the file
            # once in a plain thread first turns the usual failures into a plain error.
            await anyio.to_thread.run_sync(_probe, self.path)
            conn = await aiosqlite.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
            try:
                await self._configure(conn)
                await migrate(conn, self.path)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await conn.close()
                raise
        self._conn = conn
        self.checkpointer.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # Under the lock: a call under way finishes (or rolls back) before the file closes.
        with anyio.CancelScope(shield=True):
            await self.checkpointer.aclose()
            async with self._lock:
                conn, self._conn = self._conn, None
                if conn is not None:
                    await conn.close()

    async def _configure(self, conn: aiosqlite.Connection) -> None:
        await conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000):d}")
        [(mode,)] = await conn.execute_fetchall("PRAGMA journal_mode = WAL")
        if str(mode).lower() != "wal":
            raise StoreUnavailable(f"SQLite store {self.path}: cannot use WAL mode (journal mode {mode})")
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute("PRAGMA foreign_keys = ON")

    # plans
    async def save_plan(self, tenant: str, entry: PlanEntry) -> None:
        async with self._write() as conn:
            await conn.execute(
                "INSERT INTO plans (tenant, plan_id, user, created_at, plan, provenance)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, plan_id) DO UPDATE SET"
                " user = excluded.user, created_at = excluded.created_at,"
                " plan = excluded.plan, provenance = excluded.provenance",
                rows.plan_row(tenant, entry),
            )

    async def get_plan(self, tenant: str, plan_id: str) -> PlanEntry:
        async with self._read() as conn:
            found = await conn.execute_fetchall(
                f"SELECT {_PLAN_COLUMNS} FROM plans WHERE tenant = ? AND plan_id = ?", (tenant, plan_id)
            )
        for row in found:
            return rows.plan_from_row(row)
        raise NotFound("plan", plan_id)

    async def list_plans(self, tenant: str, *, limit: int = 50) -> list[PlanEntry]:
        async with self._read() as conn:
            found = await conn.execute_fetchall(
                f"SELECT {_PLAN_COLUMNS} FROM plans WHERE tenant = ?"
                " ORDER BY created_at DESC, plan_id DESC LIMIT ?",
                (tenant, limit),
            )
        return [rows.plan_from_row(row) for row in found]

    # runs, attempts, events
    async def save_run(self, tenant: str, record: Mapping[str, Any], *, user: str | None = None) -> None:
        run_id, plan_id, status, started_at, finished_at = rows.run_columns(record)
        document = rows.text_of(record)
        # An upsert, not INSERT OR REPLACE: replacing the row would cascade to its events.
        # The attempts are not written apart: list_attempts reads them from the record.
        await self._write_one(
            "INSERT INTO runs (tenant, run_id, plan_id, status, user, started_at, finished_at, record)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, run_id) DO UPDATE SET"
            " plan_id = excluded.plan_id, status = excluded.status,"
            " user = coalesce(excluded.user, runs.user), started_at = excluded.started_at,"
            " finished_at = excluded.finished_at, record = excluded.record",
            (tenant, run_id, plan_id, status, user, started_at, finished_at, document),
        )

    async def get_run(self, tenant: str, run_id: str) -> dict[str, Any]:
        async with self._read() as conn:
            found = await conn.execute_fetchall(
                "SELECT record FROM runs WHERE tenant = ? AND run_id = ?", (tenant, run_id)
            )
        for (document,) in found:
            record: dict[str, Any] = rows.loads(document)
            return record
        raise NotFound("run", run_id)

    async def list_runs(self, tenant: str, *, status: str | None = None, limit: int = 50) -> list[RunSummary]:
        where, params = "tenant = ?", [tenant]
        if status is not None:
            where, params = "tenant = ? AND status = ?", [tenant, status]
        async with self._read() as conn:
            found = await conn.execute_fetchall(
                f"SELECT {_SUMMARY_COLUMNS} FROM runs WHERE {where}"
                " ORDER BY started_at DESC, run_id DESC LIMIT ?",
                (*params, limit),
            )
        return [rows.summary_from_row(row) for row in found]

    async def list_attempts(self, tenant: str, run_id: str) -> list[AttemptEntry]:
        async with self._read() as conn:
            found = await conn.execute_fetchall(
                "SELECT record FROM runs WHERE tenant = ? AND run_id = ?", (tenant, run_id)
            )
        for (document,) in found:
            return attempts_of(rows.loads(document))
        raise NotFound("run", run_id)

    async def add_events(self, tenant: str, run_id: str, events: Sequence[Mapping[str, Any]]) -> None:
        if isinstance(events, JsonEvents) and events.seqs:  # checked, ordered and encoded
            first, last, text = events.seqs[0], events.seqs[-1], events.array()
        else:
            by_seq = _by_seq(events)  # a bad event fails the batch before anything is written
            if not by_seq:
                async with self._read() as conn:
                    await self._require_run(conn, tenant, run_id)
                return
            seqs = sorted(by_seq)
            first, last, text = seqs[0], seqs[-1], _array([by_seq[seq] for seq in seqs])
        # One row per batch, the events' own texts (when they come encoded) joined into a
        # JSON array: SQLite stores it without looking inside. One statement is one
        # transaction: no BEGIN and COMMIT round trips to the connection's thread. It adds
        # nothing when stored events of the run fall in the batch's span (a retried batch,
        # another writer's interleaved seqs); the slow path then keeps the new seqs only.
        try:
            added = await self._write_one(
                "INSERT INTO event_batches (tenant, run_id, first_seq, last_seq, events)"
                " SELECT ?1, ?2, ?3, ?4, ?5 WHERE NOT EXISTS (SELECT 1 FROM event_batches"
                " WHERE tenant = ?1 AND run_id = ?2 AND last_seq >= ?3 AND first_seq <= ?4)",
                (tenant, run_id, first, last, text),
            )
            if not added:
                await self._add_new_events(tenant, run_id, _by_seq(events))
        except sqlite3.IntegrityError as exc:
            if "FOREIGN KEY" not in str(exc):
                raise
            raise NotFound("run", run_id) from None

    async def _add_new_events(self, tenant: str, run_id: str, batch: dict[int, Mapping[str, Any]]) -> None:
        """The events of ``batch`` (by seq) whose seq the run has not stored, as one batch."""
        first, last = min(batch), max(batch)
        async with self._write() as conn:
            stored = await conn.execute_fetchall(
                "SELECT e.value ->> '$.seq' FROM event_batches AS b, json_each(b.events) AS e"
                " WHERE b.tenant = ? AND b.run_id = ? AND b.last_seq >= ? AND b.first_seq <= ?",
                (tenant, run_id, first, last),
            )
            known = {seq for (seq,) in stored}
            fresh = sorted(seq for seq in batch if seq not in known)
            if fresh:
                await conn.execute(
                    "INSERT INTO event_batches (tenant, run_id, first_seq, last_seq, events)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (tenant, run_id, fresh[0], fresh[-1], _array([batch[seq] for seq in fresh])),
                )

    async def list_events(
        self, tenant: str, run_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        async with self._read() as conn:
            await self._require_run(conn, tenant, run_id)
            found = await conn.execute_fetchall(
                "SELECT e.value FROM event_batches AS b, json_each(b.events) AS e"
                " WHERE b.tenant = ?1 AND b.run_id = ?2 AND b.last_seq > ?3 AND e.value ->> '$.seq' > ?3"
                " ORDER BY e.value ->> '$.seq' LIMIT ?4",
                (tenant, run_id, after_seq, _NO_LIMIT if limit is None else limit),
            )
        return [rows.loads(document) for (document,) in found]

    @staticmethod
    async def _require_run(conn: aiosqlite.Connection, tenant: str, run_id: str) -> None:
        found = await conn.execute_fetchall(
            "SELECT 1 FROM runs WHERE tenant = ? AND run_id = ?", (tenant, run_id)
        )
        if not list(found):
            raise NotFound("run", run_id)

    # sessions
    async def put_session(self, tenant: str, entry: SessionEntry) -> None:
        async with self._write() as conn:
            await self._purge_sessions(conn, tenant)
            await conn.execute(
                "INSERT OR REPLACE INTO sessions"
                " (tenant, principal, session_id, data, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                rows.session_row(tenant, entry),
            )

    async def get_session(self, tenant: str, principal: str, session_id: str) -> SessionEntry:
        async with self._read() as conn:
            found = await conn.execute_fetchall(
                f"SELECT {_SESSION_COLUMNS} FROM sessions"
                " WHERE tenant = ? AND principal = ? AND session_id = ? AND expires_at > ?",
                (tenant, principal, session_id, _now()),
            )
        for row in found:
            return rows.session_from_row(row)
        raise NotFound("session", session_id)

    async def delete_session(self, tenant: str, principal: str, session_id: str) -> None:
        async with self._write() as conn:
            await self._purge_sessions(conn, tenant)
            async with conn.execute(
                "DELETE FROM sessions WHERE tenant = ? AND principal = ? AND session_id = ?",
                (tenant, principal, session_id),
            ) as cursor:
                deleted = cursor.rowcount
        if deleted == 0:
            raise NotFound("session", session_id)

    @staticmethod
    async def _purge_sessions(conn: aiosqlite.Connection, tenant: str) -> None:
        """Expired sessions are unreadable already; writes drop the tenant's rows of them."""
        await conn.execute("DELETE FROM sessions WHERE tenant = ? AND expires_at <= ?", (tenant, _now()))

    # API keys
    async def add_api_key(self, entry: ApiKeyEntry) -> None:
        try:
            async with self._write() as conn:
                await conn.execute(
                    f"INSERT INTO api_keys ({_API_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows.api_key_row(entry),
                )
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"API key {entry.key_id!r} exists") from exc

    async def get_api_key(self, key_id: str) -> ApiKeyEntry:
        async with self._read() as conn:
            found = await conn.execute_fetchall(
                f"SELECT {_API_KEY_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,)
            )
        for row in found:
            return rows.api_key_from_row(row)
        raise NotFound("API key", key_id)

    async def list_api_keys(self, tenant: str) -> list[ApiKeyEntry]:
        async with self._read() as conn:
            found = await conn.execute_fetchall(
                f"SELECT {_API_KEY_COLUMNS} FROM api_keys WHERE tenant = ? ORDER BY created_at, key_id",
                (tenant,),
            )
        return [rows.api_key_from_row(row) for row in found]

    async def revoke_api_key(self, tenant: str, key_id: str) -> None:
        async with self._write() as conn:
            async with conn.execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE tenant = ? AND key_id = ?",
                (_now(), tenant, key_id),
            ) as cursor:
                updated = cursor.rowcount
        if updated == 0:
            raise NotFound("API key", key_id)

    # audit
    async def add_audit(self, tenant: str, entries: Sequence[AuditEntry]) -> None:
        batch = [rows.audit_row(tenant, entry) for entry in entries]
        async with self._write() as conn:
            await conn.executemany(
                "INSERT INTO audit (tenant, at, user, action, tool, run_id, task_id, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                batch,
            )

    async def list_audit(self, tenant: str, *, user: str | None = None, limit: int = 100) -> list[AuditEntry]:
        where, params = "tenant = ?", [tenant]
        if user is not None:
            where, params = "tenant = ? AND user = ?", [tenant, user]
        async with self._read() as conn:
            found = await conn.execute_fetchall(
                f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE {where} ORDER BY id DESC LIMIT ?",
                (*params, limit),
            )
        return [rows.audit_from_row(row) for row in found]

    # privacy
    async def export_user(self, tenant: str, user: str) -> dict[str, Any]:
        async with self._transaction("BEGIN") as conn:  # one snapshot for the whole export
            return await privacy.export_user(conn, tenant, user, now=_now())

    async def erase_user(self, tenant: str, user: str) -> dict[str, int]:
        async with self._write() as conn:
            return await privacy.erase_user(conn, tenant, user, now=_now())

    # the connection
    def _open_connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise StoreUnavailable(f"SQLite store {self.path} is not open (use it with async with)")
        return self._conn

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            conn = self._open_connection()
            with self._unavailable_on_error():
                yield conn

    async def _write_one(self, statement: str, parameters: tuple[Any, ...]) -> int:
        """A write of one statement: SQLite runs it as its own transaction (taking the
        write lock, with the busy timeout, before it reads), so it needs one round trip to
        the connection's thread instead of three. Shielded: it is applied whole or not at
        all even when the caller is cancelled. Returns how many rows it changed."""
        async with self._lock:
            conn = self._open_connection()
            with self._unavailable_on_error(), anyio.CancelScope(shield=True):
                cursor = await conn.execute(statement, parameters)
        self.checkpointer.wrote(_WRITE_BYTES + sum(len(p) for p in parameters if isinstance(p, str | bytes)))
        return cursor.rowcount

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._transaction("BEGIN IMMEDIATE") as conn:
            yield conn
        self.checkpointer.wrote(_WRITE_BYTES)

    @asynccontextmanager
    async def _transaction(self, begin: str) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            conn = self._open_connection()
            with self._unavailable_on_error():
                await conn.execute(begin)
                try:
                    yield conn
                    # Shielded: a cancelled caller must not leave the transaction open.
                    with anyio.CancelScope(shield=True):
                        await conn.execute("COMMIT")
                except BaseException:
                    # The first error is the one to report, not a failed rollback.
                    with anyio.CancelScope(shield=True), suppress(sqlite3.Error):
                        if conn.in_transaction:
                            await conn.execute("ROLLBACK")
                    raise

    @contextmanager
    def _unavailable_on_error(self) -> Iterator[None]:
        try:
            yield
        except _BUG_ERRORS:
            raise
        except sqlite3.Error as exc:
            name = getattr(exc, "sqlite_errorname", type(exc).__name__)
            raise StoreUnavailable(f"SQLite store {self.path}: {name}: {exc}") from exc


def _by_seq(events: Sequence[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    """The events by seq; of two with one seq, the first counts."""
    by_seq: dict[int, Mapping[str, Any]] = {}
    for event in events:
        by_seq.setdefault(rows.event_seq(event), event)
    return by_seq


def _array(events: list[Mapping[str, Any]]) -> str:
    return "[" + ",".join([rows.text_of(event) for event in events]) + "]"


def _probe(path: str) -> None:
    sqlite3.connect(path).close()


def _now() -> str:
    return rows.timestamp(datetime.now(UTC))
