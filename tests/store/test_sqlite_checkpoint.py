"""The SQLite store's write-ahead log is checkpointed from a thread of its own once enough
was written (store/_sqlite_checkpoint.py), never by creating a file, and a failing
checkpoint is counted, not raised."""

from __future__ import annotations

import threading
from pathlib import Path

import anyio
import pytest

from planexec.store import open_store
from planexec.store._sqlite import SqliteStore
from planexec.store._sqlite_checkpoint import Checkpointer

from .samples import run_record

pytestmark = pytest.mark.anyio


def _store(path: Path, checkpoint_bytes: int) -> SqliteStore:
    return SqliteStore(str(path), url=f"sqlite:///{path}", checkpoint_bytes=checkpoint_bytes)


def _big_run(run_id: str) -> dict[str, object]:
    return run_record(run_id, output="x" * 100_000)


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _log(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


async def _checkpoints(store: SqliteStore, count: int) -> bool:
    return await anyio.to_thread.run_sync(store.checkpointer.wait_for, count, 10.0)


async def test_the_log_is_copied_into_the_file_once_enough_was_written(tmp_path: Path) -> None:
    path = tmp_path / "planexec.db"
    async with _store(path, checkpoint_bytes=250_000) as store:
        size_before = _size(path)
        await store.save_run("acme", _big_run("r1"))
        await store.save_run("acme", _big_run("r2"))
        assert store.checkpointer.completed + store.checkpointer.failed == 0  # 200 kB: not yet
        await store.save_run("acme", _big_run("r3"))
        assert await _checkpoints(store, 1)
        assert store.checkpointer.failed == 0
        assert _size(path) > size_before + 300_000  # the three runs are in the file
        assert (await store.get_run("acme", "r3"))["output"] == "x" * 100_000


async def test_writes_below_the_threshold_leave_the_log_to_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "planexec.db"
    async with _store(path, checkpoint_bytes=10**9) as store:
        size_before = _size(path)
        for n in range(5):
            await store.save_run("acme", _big_run(f"r{n}"))
        assert store.checkpointer.completed == 0
        # 500 kB in the log, below SQLite's own 1,000 pages: nothing copied into the file yet
        assert _size(_log(path)) > 500_000
        assert _size(path) < size_before + 100_000
    assert _size(_log(path)) == 0  # the last connection to close copied it and removed it


async def test_the_default_store_checkpoints_every_megabyte(tmp_path: Path) -> None:
    async with open_store(f"sqlite:///{tmp_path / 'planexec.db'}") as store:
        assert isinstance(store, SqliteStore)
        assert store.checkpointer.every_bytes == 1024 * 1024
        for n in range(11):
            await store.save_run("acme", _big_run(f"r{n}"))
        assert await _checkpoints(store, 1)


async def test_closing_the_store_stops_its_checkpoint_thread(tmp_path: Path) -> None:
    def running() -> int:
        return sum(1 for thread in threading.enumerate() if thread.name == "planexec-checkpoint")

    before = running()
    async with _store(tmp_path / "planexec.db", checkpoint_bytes=1) as store:
        assert running() == before + 1
        await store.save_run("acme", run_record("r1"))
        assert await _checkpoints(store, 1)
    assert running() == before
    await store.checkpointer.aclose()  # closing twice is harmless
    async with store:  # opened again, it checkpoints again
        await store.save_run("acme", run_record("r2"))
        assert await _checkpoints(store, 2)
        assert store.checkpointer.failed == 0
    assert running() == before


async def test_a_failing_checkpoint_is_counted_and_never_creates_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "gone.db"
    checkpointer = Checkpointer(str(missing), every_bytes=10)
    checkpointer.start()
    try:
        checkpointer.wrote(10)
        assert await anyio.to_thread.run_sync(checkpointer.wait_for, 1, 10.0)
        assert (checkpointer.completed, checkpointer.failed) == (0, 1)
        assert not missing.exists()
        checkpointer.wrote(10)  # tried again at the next trigger
        assert await anyio.to_thread.run_sync(checkpointer.wait_for, 2, 10.0)
        assert checkpointer.failed == 2
    finally:
        await checkpointer.aclose()


async def test_a_path_with_uri_characters_is_checkpointed(tmp_path: Path) -> None:
    path = tmp_path / "odd?name#with%chars.db"
    async with _store(path, checkpoint_bytes=1) as store:
        await store.save_run("acme", run_record("r1"))
        assert await _checkpoints(store, 1)
        assert (store.checkpointer.completed, store.checkpointer.failed) == (1, 0)
    assert not (tmp_path / "odd").exists()
