"""What only the SQLite store promises: WAL on one file, versioned migrations, a missing
directory created, an unusable file reported as StoreUnavailable, several store instances
writing one file without losing anything."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiosqlite
import anyio
import pytest

from planexec.store import ApiKeyEntry, AuditEntry, NotFound, SessionEntry, StoreUnavailable, open_store
from planexec.store._json import dumps
from planexec.store._models import attempts_of
from planexec.store._sqlite import SqliteStore
from planexec.store._sqlite_schema import MIGRATIONS, SCHEMA_VERSION, migrate

from .samples import at, event, plan, run_record

pytestmark = pytest.mark.anyio


def _store(path: Path, **options: float) -> SqliteStore:
    return SqliteStore(str(path), url=f"sqlite:///{path}", **options)


@contextmanager
def _raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection in autocommit mode, as another program would open the file."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def _pragma(path: Path, name: str) -> object:
    with _raw(path) as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]


async def _v1_file(path: Path) -> None:
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await migrate(conn, str(path), target=1)


async def test_the_file_is_in_wal_mode_with_foreign_keys_and_normal_sync(tmp_path: Path) -> None:
    path = tmp_path / "planexec.db"
    async with open_store(f"sqlite:///{path}") as store:
        assert isinstance(store, SqliteStore)
        conn = store._conn
        assert conn is not None
        for name, expected in [("journal_mode", "wal"), ("synchronous", 1), ("foreign_keys", 1)]:
            [(value,)] = await conn.execute_fetchall(f"PRAGMA {name}")
            assert value == expected
        [(timeout_ms,)] = await conn.execute_fetchall("PRAGMA busy_timeout")
        assert timeout_ms == 5000
    assert _pragma(path, "journal_mode") == "wal"


async def test_a_missing_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "data" / "planexec" / "planexec.db"
    async with _store(path) as store:
        await store.save_plan("acme", plan("p1"))
    assert path.is_file()
    assert _pragma(path, "user_version") == SCHEMA_VERSION


async def test_every_table_leads_an_index_with_tenant(tmp_path: Path) -> None:
    path = tmp_path / "planexec.db"
    async with _store(path):
        pass
    with _raw(path) as conn:
        tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert sorted(tables) == ["api_keys", "audit", "event_batches", "plans", "runs", "sessions"]
        for table in tables:
            leading = {
                conn.execute(f"PRAGMA index_info({index!r})").fetchone()[2]
                for (_, index, *_rest) in conn.execute(f"PRAGMA index_list({table!r})")
            }
            assert "tenant" in leading, table


async def test_every_statement_is_scoped_to_a_tenant(tmp_path: Path) -> None:
    """Traced statements of one call of every method: each names the tenant it was given,
    except the lookup of an API key by its id."""
    statements: list[str] = []
    async with _store(tmp_path / "planexec.db") as store:
        assert store._conn is not None
        await store._conn.set_trace_callback(statements.append)
        await _every_call(store)
    data = [s for s in statements if s.split(None, 1)[0].upper() in {"SELECT", "INSERT", "UPDATE", "DELETE"}]
    assert len(data) > 20
    unscoped = [s for s in data if "'acme'" not in s]
    assert unscoped == ["SELECT key_id, tenant, user, scopes, key_hash, created_at, revoked_at"
                        " FROM api_keys WHERE key_id = 'k1'"]  # fmt: skip


async def _every_call(store: SqliteStore) -> None:
    await store.save_plan("acme", plan("p1"))
    await store.get_plan("acme", "p1")
    await store.list_plans("acme")
    await store.save_run("acme", run_record("r1"), user="alice")
    await store.get_run("acme", "r1")
    await store.list_runs("acme", status="succeeded")
    await store.list_attempts("acme", "r1")
    await store.add_events("acme", "r1", [event("r1", 1)])
    await store.list_events("acme", "r1", after_seq=0, limit=5)
    session = SessionEntry(session_id="s1", principal="alice", created_at=at(0), expires_at=at(10**9))
    await store.put_session("acme", session)
    await store.get_session("acme", "alice", "s1")
    await store.delete_session("acme", "alice", "s1")
    key = ApiKeyEntry(key_id="k1", tenant="acme", key_hash="h", created_at=at(0))
    await store.add_api_key(key)
    await store.get_api_key("k1")
    await store.list_api_keys("acme")
    await store.revoke_api_key("acme", "k1")
    await store.add_audit("acme", [AuditEntry(at=at(0), user="alice", action="tool_call")])
    await store.list_audit("acme", user="alice")
    await store.export_user("acme", "alice")
    await store.erase_user("acme", "alice")


async def test_a_v1_file_is_migrated_forward_keeping_its_data(tmp_path: Path) -> None:
    path = tmp_path / "planexec.db"
    await _v1_file(path)
    assert _pragma(path, "user_version") == 1
    with _raw(path) as conn:
        conn.execute(
            "INSERT INTO plans (tenant, plan_id, user, created_at, plan, provenance)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            ("acme", "old", "alice", "2026-01-31T12:00:00.000000+00:00", '{"goal":"kept"}', "{}"),
        )
    async with _store(path) as store:
        assert (await store.get_plan("acme", "old")).plan == {"goal": "kept"}
        await store.add_audit("acme", [])  # a table of migration 2
        assert await store.list_api_keys("acme") == []
    assert _pragma(path, "user_version") == SCHEMA_VERSION == MIGRATIONS[-1].version


async def test_a_v2_file_loses_its_attempts_table_and_keeps_the_attempts_of_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "planexec.db"
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await migrate(conn, str(path), target=2)
    record = run_record("r1")
    with _raw(path) as conn:
        conn.execute(
            "INSERT INTO runs (tenant, run_id, plan_id, status, user, started_at, finished_at, record)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            ("acme", "r1", record["plan_id"], record["status"], "alice", record.get("started_at"),
             record.get("finished_at"), json.dumps(record)),
        )  # fmt: skip
        conn.execute(
            "INSERT INTO attempts (tenant, run_id, position, task_id, kind, n, arguments, output)"
            " VALUES ('acme', 'r1', 0, 't', 'task', 1, '{}', 'null')"
        )
    assert _pragma(path, "user_version") == 2
    async with _store(path) as store:
        attempts = await store.list_attempts("acme", "r1")
        assert attempts == attempts_of(record) != []
        assert (await store.export_user("acme", "alice"))["runs"][0]["attempts"] == [
            attempt.model_dump(mode="json") for attempt in attempts
        ]
    assert _pragma(path, "user_version") == SCHEMA_VERSION
    with _raw(path) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'attempts'").fetchone() == (0,)


async def test_a_failed_migration_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "planexec.db"
    await _v1_file(path)
    with _raw(path) as conn:
        conn.execute("CREATE TABLE sessions (x)")  # migration 2 cannot create its own
    with pytest.raises(StoreUnavailable) as caught:
        async with _store(path):
            pass
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert _pragma(path, "user_version") == 1
    with _raw(path) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'api_keys'").fetchone() == (0,)


async def test_a_file_from_a_newer_planexec_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "planexec.db"
    async with _store(path) as store:
        await store.save_plan("acme", plan("p1"))
    with _raw(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreUnavailable):
        async with _store(path):
            pass
    assert _pragma(path, "user_version") == SCHEMA_VERSION + 1


async def test_a_corrupt_file_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "planexec.db"
    path.write_bytes(b"this is not a database, " * 200)
    with pytest.raises(StoreUnavailable) as caught:
        async with _store(path):
            pass
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)
    assert caught.value.__cause__.sqlite_errorname == "SQLITE_NOTADB"


@pytest.mark.parametrize("where", ["a directory", "under a file"])
async def test_an_unusable_path_is_unavailable(tmp_path: Path, where: str) -> None:
    if where == "a directory":
        path = tmp_path / "planexec.db"
        path.mkdir()
    else:
        (tmp_path / "file").write_text("")
        path = tmp_path / "file" / "planexec.db"
    with pytest.raises(StoreUnavailable) as caught:
        async with _store(path):
            pass
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError | OSError)


async def test_expired_sessions_are_purged_by_later_writes_of_their_tenant(tmp_path: Path) -> None:
    path = tmp_path / "planexec.db"
    expired = SessionEntry(session_id="old", principal="alice", created_at=at(0), expires_at=at(1))
    async with _store(path) as store:
        for tenant in ("acme", "globex"):
            await store.put_session(tenant, expired)
        await store.put_session(
            "acme", expired.model_copy(update={"session_id": "new", "expires_at": at(10**9)})
        )
    with _raw(path) as conn:
        rows = conn.execute("SELECT tenant, session_id FROM sessions ORDER BY tenant, session_id").fetchall()
    assert rows == [("acme", "new"), ("globex", "old")]  # a write purges its own tenant's rows only


async def test_a_closed_store_is_unavailable(tmp_path: Path) -> None:
    store = _store(tmp_path / "planexec.db")
    async with store:
        pass
    with pytest.raises(StoreUnavailable):
        await store.list_runs("acme")


async def test_a_write_locked_past_the_busy_timeout_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "planexec.db"
    async with _store(path, busy_timeout_s=0.05) as store:
        await store.save_run("acme", run_record("r1"))
        with _raw(path) as holder:
            holder.execute("BEGIN IMMEDIATE")  # another process writing, and writing...
            with pytest.raises(StoreUnavailable) as caught:
                await store.add_events("acme", "r1", [event("r1", 1)])
            assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
            assert (await store.get_run("acme", "r1"))["run_id"] == "r1"  # WAL: readers go on
        await store.add_events("acme", "r1", [event("r1", 1)])  # and the store recovers
        assert len(await store.list_events("acme", "r1")) == 1


async def test_a_failed_write_is_rolled_back_whole(tmp_path: Path) -> None:
    async with _store(tmp_path / "planexec.db") as store:
        await store.save_run("acme", run_record("r1"))
        with pytest.raises(ValueError):
            await store.add_events("acme", "r1", [event("r1", 1), {"type": "no seq"}])
        assert await store.list_events("acme", "r1") == []
        with pytest.raises(NotFound):
            await store.add_events("acme", "r2", [event("r2", 1)])


async def test_concurrent_store_instances_on_one_file_lose_no_events(tmp_path: Path) -> None:
    path = tmp_path / "planexec.db"
    batches, size = 40, 25
    async with _store(path) as first, _store(path) as second:
        await first.save_run("acme", run_record("r1"))

        async def write(store: SqliteStore, parity: int) -> None:
            for batch in range(parity, batches, 2):
                seqs = range(batch * size + 1, (batch + 1) * size + 1)
                await store.add_events("acme", "r1", [event("r1", seq) for seq in seqs])
                await store.save_plan("acme", plan(f"p{batch}"))

        async with anyio.create_task_group() as group:
            group.start_soon(write, first, 0)
            group.start_soon(write, second, 1)
        for store in (first, second):
            seqs = [e["seq"] for e in await store.list_events("acme", "r1")]
            assert seqs == list(range(1, batches * size + 1))
            assert len(await store.list_plans("acme", limit=100)) == batches


async def test_large_documents_round_trip(tmp_path: Path) -> None:
    big = plan("p1", goal="x" * 5_000_000)
    async with _store(tmp_path / "planexec.db") as store:
        await store.save_plan("acme", big)
        assert await store.get_plan("acme", "p1") == big


async def test_a_batch_of_events_is_one_row_holding_the_texts_their_encoder_wrote(tmp_path: Path) -> None:
    """A batch goes to SQLite as one JSON array of the events' own texts, in seq order."""
    path = tmp_path / "planexec.db"
    events = [
        {**event("r1", 2), "detail": {"é": 'ü\\n"', "x": 1.5e300, "big": 2**62, "list": [1, None, True]}},
        event("r1", 1),
        event("r1", 2),  # a seq already in the batch is ignored, as a stored one is
    ]
    async with _store(path) as store:
        await store.save_run("acme", run_record("r1"))
        await store.add_events("acme", "r1", events)
        assert await store.list_events("acme", "r1") == [events[1], events[0]]
    with _raw(path) as conn:
        stored = conn.execute("SELECT first_seq, last_seq, events FROM event_batches").fetchall()
    assert stored == [(1, 2, f"[{dumps(events[1])},{dumps(events[0])}]")]


async def test_a_batch_that_meets_stored_events_adds_only_the_new_seqs(tmp_path: Path) -> None:
    path = tmp_path / "planexec.db"
    async with _store(path) as store:
        await store.save_run("acme", run_record("r1"))
        await store.add_events("acme", "r1", [event("r1", seq) for seq in (2, 4, 6)])
        await store.add_events("acme", "r1", [event("r1", seq, type="again") for seq in (1, 3, 4, 5, 6, 7)])
        # nothing new:
        await store.add_events("acme", "r1", [event("r1", seq, type="again") for seq in (2, 4)])
        listed = await store.list_events("acme", "r1")
        assert [(e["seq"], e["type"]) for e in listed] == [
            (1, "again"),
            (2, "task_running"),
            (3, "again"),
            (4, "task_running"),
            (5, "again"),
            (6, "task_running"),
            (7, "again"),
        ]
        assert [e["seq"] for e in await store.list_events("acme", "r1", after_seq=2, limit=3)] == [3, 4, 5]
    with _raw(path) as conn:
        spans = conn.execute("SELECT first_seq, last_seq FROM event_batches ORDER BY first_seq").fetchall()
    assert spans == [(1, 7), (2, 6)]


async def test_a_v3_file_keeps_its_events_in_batches_of_one(tmp_path: Path) -> None:
    path = tmp_path / "planexec.db"
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await migrate(conn, str(path), target=3)
    record = run_record("r1")
    with _raw(path) as conn:
        conn.execute(
            "INSERT INTO runs (tenant, run_id, plan_id, status, user, started_at, finished_at, record)"
            " VALUES ('acme', 'r1', 'p1', 'succeeded', 'alice', NULL, NULL, ?)",
            (json.dumps(record),),
        )
        for seq in (2, 1):
            conn.execute(
                "INSERT INTO events (tenant, run_id, seq, event) VALUES ('acme', 'r1', ?, ?)",
                (seq, json.dumps(event("r1", seq))),
            )
    async with _store(path) as store:
        assert await store.list_events("acme", "r1") == [event("r1", 1), event("r1", 2)]
        await store.add_events("acme", "r1", [event("r1", 2), event("r1", 3)])
        assert [e["seq"] for e in await store.list_events("acme", "r1")] == [1, 2, 3]
        (exported,) = (await store.export_user("acme", "alice"))["runs"]
        assert [e["seq"] for e in exported["events"]] == [1, 2, 3]
    assert _pragma(path, "user_version") == SCHEMA_VERSION == 4
