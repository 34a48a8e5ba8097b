"""The SQLite store's schema as an ordered list of migrations.

The file's schema version is ``PRAGMA user_version`` (0 for a new file). Opening a store
applies every migration past that version, in order, in one ``BEGIN IMMEDIATE``
transaction that also sets the new version: two processes opening one file at once
migrate it once, and a failed step leaves the file as it was. A file whose version is
newer than :data:`SCHEMA_VERSION` was written by a newer planexec and is refused.

Add a migration by appending to :data:`MIGRATIONS`; never edit one that has shipped.

Every table has ``tenant`` first in its primary key or in an index, because every query
filters by it. Events belong to their run (foreign key, deleted with it), in batches (a
row holds a JSON array of events); a run's attempts are read from its record.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite
import anyio

from ._errors import StoreUnavailable

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Migration", "migrate", "schema_version"]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    summary: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "plans and runs with their attempts and events",
        (
            """CREATE TABLE plans (
                tenant TEXT NOT NULL,
                plan_id TEXT NOT NULL,
                user TEXT,
                created_at TEXT NOT NULL,
                plan TEXT NOT NULL,
                provenance TEXT NOT NULL,
                PRIMARY KEY (tenant, plan_id)
            )""",
            "CREATE INDEX plans_by_created ON plans (tenant, created_at DESC, plan_id DESC)",
            "CREATE INDEX plans_by_user ON plans (tenant, user)",
            """CREATE TABLE runs (
                tenant TEXT NOT NULL,
                run_id TEXT NOT NULL,
                plan_id TEXT NOT NULL,
                status TEXT NOT NULL,
                user TEXT,
                started_at TEXT,
                finished_at TEXT,
                record TEXT NOT NULL,
                PRIMARY KEY (tenant, run_id)
            )""",
            "CREATE INDEX runs_by_started ON runs (tenant, started_at DESC, run_id DESC)",
            "CREATE INDEX runs_by_status ON runs (tenant, status, started_at DESC, run_id DESC)",
            "CREATE INDEX runs_by_user ON runs (tenant, user)",
            """CREATE TABLE attempts (
                tenant TEXT NOT NULL,
                run_id TEXT NOT NULL,
                position INTEGER NOT NULL,
                task_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                n INTEGER NOT NULL,
                arguments TEXT NOT NULL,
                output TEXT NOT NULL,
                error TEXT,
                started_at TEXT,
                finished_at TEXT,
                PRIMARY KEY (tenant, run_id, position),
                FOREIGN KEY (tenant, run_id) REFERENCES runs (tenant, run_id) ON DELETE CASCADE
            )""",
            """CREATE TABLE events (
                tenant TEXT NOT NULL,
                run_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                event TEXT NOT NULL,
                PRIMARY KEY (tenant, run_id, seq),
                FOREIGN KEY (tenant, run_id) REFERENCES runs (tenant, run_id) ON DELETE CASCADE
            )""",
        ),
    ),
    Migration(
        2,
        "sessions, API keys and audit records",
        (
            """CREATE TABLE sessions (
                tenant TEXT NOT NULL,
                principal TEXT NOT NULL,
                session_id TEXT NOT NULL,
                data TEXT NOT NULL,
                created_at TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                PRIMARY KEY (tenant, principal, session_id)
            )""",
            "CREATE INDEX sessions_by_expiry ON sessions (tenant, expires_at)",
            # key_id alone is the primary key: get_api_key is the one lookup without a tenant
            # (it is how a request finds its tenant).
            """CREATE TABLE api_keys (
                key_id TEXT NOT NULL PRIMARY KEY,
                tenant TEXT NOT NULL,
                user TEXT,
                scopes TEXT NOT NULL,
                key_hash TEXT NOT NULL,
                created_at TEXT NOT NULL,
                revoked_at TEXT
            )""",
            "CREATE INDEX api_keys_by_tenant ON api_keys (tenant, created_at, key_id)",
            "CREATE INDEX api_keys_by_user ON api_keys (tenant, user)",
            # id is the rowid: insertion order, which list_audit reads backwards.
            """CREATE TABLE audit (
                id INTEGER PRIMARY KEY,
                tenant TEXT NOT NULL,
                at TEXT NOT NULL,
                user TEXT,
                action TEXT NOT NULL,
                tool TEXT,
                run_id TEXT,
                task_id TEXT,
                detail TEXT NOT NULL
            )""",
            "CREATE INDEX audit_by_tenant ON audit (tenant, id)",
            "CREATE INDEX audit_by_user ON audit (tenant, user, id)",
        ),
    ),
    Migration(
        3,
        "attempts are read from the run record; the attempts table goes",
        # The record JSON holds every attempt, so nothing is lost; writing them twice cost
        # a run about as much as writing its record.
        ("DROP TABLE attempts",),
    ),
    Migration(
        4,
        "events are stored in batches, a JSON array of events per row",
        # A row per event cost SQLite ~6 µs an event (two B-tree inserts, a foreign key
        # check); a row per batch of a run's events costs about a third of that. A batch
        # holds ascending seqs, and no seq of a run is in two batches.
        (
            """CREATE TABLE event_batches (
                tenant TEXT NOT NULL,
                run_id TEXT NOT NULL,
                first_seq INTEGER NOT NULL,
                last_seq INTEGER NOT NULL,
                events TEXT NOT NULL,
                PRIMARY KEY (tenant, run_id, first_seq),
                FOREIGN KEY (tenant, run_id) REFERENCES runs (tenant, run_id) ON DELETE CASCADE
            )""",
            "CREATE INDEX event_batches_by_last ON event_batches (tenant, run_id, last_seq)",
            "INSERT INTO event_batches (tenant, run_id, first_seq, last_seq, events)"
            " SELECT tenant, run_id, seq, seq, '[' || event || ']' FROM events",
            "DROP TABLE events",
        ),
    ),
)

SCHEMA_VERSION = MIGRATIONS[-1].version


async def schema_version(conn: aiosqlite.Connection) -> int:
    rows = list(await conn.execute_fetchall("PRAGMA user_version"))
    version: int = rows[0][0]
    return version


async def migrate(conn: aiosqlite.Connection, path: str, *, target: int = SCHEMA_VERSION) -> int:
    """Bring the file to ``target`` (the latest by default); return the version it had.

    ``conn`` is in autocommit mode (``isolation_level=None``). Raises StoreUnavailable for a
    file from a newer planexec; sqlite errors propagate (the caller maps them)."""
    await conn.execute("BEGIN IMMEDIATE")
    try:
        found = await schema_version(conn)
        if found > SCHEMA_VERSION:
            raise StoreUnavailable(
                f"SQLite store {path}: schema version {found} is newer than this planexec "
                f"supports ({SCHEMA_VERSION}); upgrade planexec or choose another store file"
            )
        for migration in MIGRATIONS:
            if found < migration.version <= target:
                for statement in migration.statements:
                    await conn.execute(statement)
                # user_version is written in the transaction: it moves with the tables.
                await conn.execute(f"PRAGMA user_version = {migration.version:d}")
        await conn.execute("COMMIT")
    except BaseException:
        with anyio.CancelScope(shield=True):
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
        raise
    return found
