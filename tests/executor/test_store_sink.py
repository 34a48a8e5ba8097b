"""StoreSink: runs persist as they go, and a store failure ends the run with that error."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio
import pytest

from planexec.executor import (
    Executor,
    ReplayError,
    RunErrorCode,
    RunStatus,
    StoreSink,
    TaskStatus,
    replay_run,
)
from planexec.store import Store, StoreUnavailable, open_store

from ..store.redis_server import RedisServer
from .replay_corpus import TENANT, USER, record_run, success
from .support import FakeClock, Harness, RecordingSleep, ScriptedTools, blocking, make_plan, task

pytestmark = pytest.mark.anyio


class CountingStore:
    """Passes calls on to a real store and counts add_events calls and their sizes."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.batches: list[list[int]] = []

    async def save_run(self, tenant: str, record: dict[str, Any], *, user: str | None = None) -> None:
        await self.store.save_run(tenant, record, user=user)

    async def add_events(self, tenant: str, run_id: str, events: Sequence[dict[str, Any]]) -> None:
        self.batches.append([event["seq"] for event in events])
        await self.store.add_events(tenant, run_id, events)


async def test_the_store_holds_the_final_record_and_every_event(sqlite_store: Store) -> None:
    tools = ScriptedTools()
    tools.add("t")
    plan = make_plan({"a": task("t", {"x": 1}), "b": task("t", {"y": "$<a.output.x>"}, deps=("a",))})
    counting = CountingStore(sqlite_store)
    sink = StoreSink(counting, TENANT, USER)  # type: ignore[arg-type]  # the two calls it makes
    async with Executor(tools, sink, clock=FakeClock()).start(plan) as handle:
        events = [event async for event in handle.events()]
        record = await handle.wait()

    assert await sqlite_store.get_run(TENANT, record.run_id) == record.model_dump(mode="json")
    stored_events = await sqlite_store.list_events(TENANT, record.run_id)
    assert stored_events == [event.as_json() for event in events]
    assert [seq for batch in counting.batches for seq in batch] == list(range(1, len(events) + 1))
    assert all(counting.batches)  # one call per non-empty batch, as the log handed them over
    (summary,) = await sqlite_store.list_runs(TENANT)
    assert (summary.run_id, summary.status, summary.user) == (record.run_id, "succeeded", USER)
    attempts = await sqlite_store.list_attempts(TENANT, record.run_id)
    assert [(a.task_id, a.n, a.arguments) for a in attempts] == [("a", 1, {"x": 1}), ("b", 1, {"y": 1})]


async def test_extra_fields_are_stored_with_every_record(sqlite_store: Store) -> None:
    tools = ScriptedTools()
    tools.add("t")
    sink = StoreSink(sqlite_store, TENANT, extra={"replay_of": "r-0"})
    record = await Executor(tools, sink).run(make_plan({"a": task("t")}))
    stored = await sqlite_store.get_run(TENANT, record.run_id)
    assert stored["replay_of"] == "r-0"
    assert {k: v for k, v in stored.items() if k != "replay_of"} == record.model_dump(mode="json")


class FailingSink:
    """Fails the ``fail_on``-th call of ``method`` with StoreUnavailable."""

    def __init__(self, method: str, fail_on: int = 1, after: anyio.Event | None = None) -> None:
        self.method = method
        self.fail_on = fail_on
        self.calls = {"save_run": 0, "add_events": 0}
        self.after = after

    async def _maybe_fail(self, method: str) -> None:
        self.calls[method] += 1
        if method == self.method and self.calls[method] == self.fail_on:
            if self.after is not None:
                await self.after.wait()
            raise StoreUnavailable("the store went away")

    async def save_run(self, record: Any) -> None:
        await self._maybe_fail("save_run")

    async def add_events(self, events: Sequence[Any]) -> None:
        await self._maybe_fail("add_events")


async def test_a_first_save_that_fails_starts_no_task_and_raises_the_error_itself(harness: Harness) -> None:
    harness.tools.add("t")
    with anyio.fail_after(5), pytest.raises(StoreUnavailable):
        await harness.executor(sink=FailingSink("save_run")).run(make_plan({"a": task("t")}))
    assert harness.tools.calls == []


def undo_plan() -> Any:
    return make_plan(
        {
            "write": task("t", {"k": 1}, compensation={"tool_name": "undo", "parameters": {"k": 1}}),
            "slow": task("slow", deps=("write",)),
            "after": task("t", deps=("slow",)),
        }
    )


async def test_a_sink_failure_mid_run_cancels_the_run_compensates_and_raises_the_error_itself(
    harness: Harness,
) -> None:
    started = anyio.Event()
    harness.tools.add("t")
    harness.tools.add("undo")
    harness.tools.add("slow", blocking(anyio.Event(), started))  # never released
    sink = FailingSink("add_events", fail_on=2, after=started)
    with anyio.fail_after(5), pytest.raises(StoreUnavailable) as raised:
        await harness.executor(sink=sink).run(undo_plan())
    assert not isinstance(raised.value, BaseExceptionGroup)
    assert [c.tool for c in harness.tools.calls] == ["t", "slow", "undo"]


async def test_leaving_start_raises_the_sink_error_and_the_handle_has_the_final_record(
    harness: Harness,
) -> None:
    started = anyio.Event()
    harness.tools.add("t")
    harness.tools.add("undo")
    harness.tools.add("slow", blocking(anyio.Event(), started))
    sink = FailingSink("add_events", fail_on=2, after=started)
    with anyio.fail_after(5), pytest.raises(StoreUnavailable):
        async with harness.executor(sink=sink).start(undo_plan()) as handle:
            pass  # the body does not wait: leaving the block does
    record = handle.record()
    assert record.status is RunStatus.CANCELLED
    assert record.error is not None and record.error.code is RunErrorCode.CANCELLED
    assert record.error.detail == {"sink_error": "StoreUnavailable"}
    assert record.tasks["slow"].status is TaskStatus.CANCELLED
    assert record.tasks["write"].status is TaskStatus.COMPENSATED
    assert record.tasks["after"].status is TaskStatus.SKIPPED


async def test_a_final_save_that_fails_raises_after_the_run_completed(harness: Harness) -> None:
    harness.tools.add("t")
    executor = harness.executor(sink=FailingSink("save_run", fail_on=2))
    with anyio.fail_after(5), pytest.raises(StoreUnavailable):
        async with executor.start(make_plan({"a": task("t")})) as handle:
            await handle.wait()
    assert handle.record().status is RunStatus.SUCCEEDED
    assert [c.tool for c in harness.tools.calls] == ["t"]


class AcknowledgingSink(StoreSink):
    """Remembers the events the store acknowledged; tells when ``slow`` is stored running."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, TENANT, USER)
        self.acknowledged: list[dict[str, Any]] = []
        self.slow_stored = anyio.Event()

    async def add_events(self, events: Sequence[Any]) -> None:
        await super().add_events(events)
        self.acknowledged.extend(event.as_json() for event in events)
        if any(event.task_id == "slow" for event in events):
            self.slow_stored.set()


async def test_killing_redis_mid_run_raises_store_unavailable_and_a_restart_serves_replay(
    durable_redis: RedisServer,
) -> None:
    gate = anyio.Event()
    tools = ScriptedTools()
    tools.add("t")
    tools.add("wait", blocking(gate))
    tools.add("forever", blocking(anyio.Event()))  # only the end of the run stops it
    plan = make_plan(
        {
            "first": task("t", {"v": 1}),
            "slow": task("wait", deps=("first",)),
            "last": task("forever", deps=("slow",)),
        }
    )
    async with open_store(durable_redis.url) as store:
        finished = await record_run(store, success())  # stored before the kill
        events_before = await store.list_events(TENANT, finished.run_id)

        sink = AcknowledgingSink(store)
        executor = Executor(tools, sink, clock=FakeClock(), sleep=RecordingSleep())
        with anyio.fail_after(10), pytest.raises(StoreUnavailable) as raised:  # a clear error, not a hang
            async with executor.start(plan, run_id="run-killed") as handle:
                await sink.slow_stored.wait()
                durable_redis.kill()
                gate.set()  # the run goes on and has events to write
                await handle.wait()
        assert not isinstance(raised.value, BaseExceptionGroup)
        assert handle.record().status is RunStatus.CANCELLED

        durable_redis.start()  # same data directory and append-only file
        with anyio.fail_after(10):
            assert await store.get_run(TENANT, finished.run_id) == finished.model_dump(mode="json")
            assert await store.list_events(TENANT, finished.run_id) == events_before
            result = await replay_run(store, TENANT, finished.run_id)
            assert result.identical

            killed = await store.get_run(TENANT, "run-killed")  # as last acknowledged
            assert killed["status"] == "running"
            assert await store.list_events(TENANT, "run-killed") == sink.acknowledged  # nothing lost
            assert [event["type"] for event in sink.acknowledged][:2] == ["run_started", "task_running"]
            with pytest.raises(ReplayError):
                await replay_run(store, TENANT, "run-killed")
