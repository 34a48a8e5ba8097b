"""The sink's events come paced: at most one batch per interval while the run goes on,
the rest as soon as the run ends (the log closes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from planexec.executor import Event, EventType, Executor, StoreSink
from planexec.executor import _executor as executor_module
from planexec.executor._events import EventLog
from planexec.store import Store

from .replay_corpus import TENANT, USER
from .support import FakeClock, ScriptedTools, make_plan, task

pytestmark = pytest.mark.anyio


def _event(seq: int) -> Event:
    return Event(seq, datetime(2026, 1, 1, tzinfo=UTC), "r", None, EventType.TASK_RUNNING, 1, {})


async def _batches(log: EventLog, every_s: float, appended: Sequence[int]) -> list[list[int]]:
    """The batches a reader of ``log`` gets when, after its first batch, the events
    ``appended`` are appended one at a time (every task blocked between two), then the
    log closes."""
    batches: list[list[int]] = []
    first = anyio.Event()

    async def read() -> None:
        async for batch in log.follow(every_s=every_s):
            batches.append([event.seq for event in batch])
            first.set()

    with anyio.fail_after(10):  # a reader still waiting out every_s after close fails here
        async with anyio.create_task_group() as group:
            group.start_soon(read)
            await first.wait()
            for seq in appended:
                log.append(_event(seq))
                await wait_all_tasks_blocked()
            log.close()
    return batches


@pytest.mark.parametrize(
    ("every_s", "expected"),
    [(0.0, [[1, 2], [3], [4], [5]]), (3600.0, [[1, 2], [3, 4, 5]])],
    ids=["unpaced", "paced"],
)
async def test_a_paced_reader_gets_what_came_meanwhile_as_one_batch_and_the_rest_on_close(
    every_s: float, expected: list[list[int]]
) -> None:
    log = EventLog()
    log.append(_event(1))
    log.append(_event(2))
    assert await _batches(log, every_s, [3, 4, 5]) == expected


async def test_a_paced_reader_of_a_closed_log_gets_everything_at_once() -> None:
    log = EventLog()
    for seq in (1, 2, 3):
        log.append(_event(seq))
    log.close()
    with anyio.fail_after(10):
        assert [[e.seq for e in batch] async for batch in log.follow(every_s=3600.0)] == [[1, 2, 3]]


class CountingStore:
    """Passes calls on to a real store and records the seqs of each add_events call."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.batches: list[list[int]] = []

    async def save_run(self, tenant: str, record: dict[str, Any], *, user: str | None = None) -> None:
        await self.store.save_run(tenant, record, user=user)

    async def add_events(self, tenant: str, run_id: str, events: Sequence[dict[str, Any]]) -> None:
        self.batches.append([event["seq"] for event in events])
        await self.store.add_events(tenant, run_id, events)


async def test_the_run_ends_without_waiting_out_the_interval_and_the_store_has_every_event(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executor_module, "SINK_BATCH_INTERVAL_S", 3600.0)
    tools = ScriptedTools()
    tools.add("t")
    plan = make_plan({"a": task("t", {"x": 1}), "b": task("t", {"y": "$<a.output.x>"}, deps=("a",))})
    counting = CountingStore(sqlite_store)
    sink = StoreSink(counting, TENANT, USER)  # type: ignore[arg-type]  # the two calls it makes
    with anyio.fail_after(10):
        record = await Executor(tools, sink, clock=FakeClock()).run(plan)

    stored = await sqlite_store.list_events(TENANT, record.run_id)
    assert [event["seq"] for event in stored] == list(range(1, 7))  # run, 2 x (running, succeeded), run
    assert stored[-1]["type"] == EventType.RUN_SUCCEEDED
    # The first batch when the run started, everything else when it ended.
    assert len(counting.batches) == 2
    assert [seq for batch in counting.batches for seq in batch] == list(range(1, 7))
    assert (await sqlite_store.get_run(TENANT, record.run_id))["status"] == "succeeded"
