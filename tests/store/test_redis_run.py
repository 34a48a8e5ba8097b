"""A real run of the executor writing to Redis through a sink, and redis-server killed in
the middle of it (issue 4): the run ends with StoreUnavailable instead of hanging, and
once Redis is back on the same data the same store object serves what was written.

The sink here is a stand-in for the executor→store wiring (built elsewhere): it does what
that wiring has to do, so this pins the store's half of the guarantee."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import pytest

from planexec.executor import Event, Executor, RunRecord
from planexec.store import Store, StoreUnavailable
from planexec.store._redis import RedisStore

from ..executor.support import FakeClock, RecordingSleep, ScriptedTools, blocking, make_plan, task
from .redis_server import RedisServer

pytestmark = pytest.mark.anyio


class StoreSink:
    """The executor's RunSink on a store; remembers what the store acknowledged."""

    def __init__(self, store: Store, tenant: str) -> None:
        self.store = store
        self.tenant = tenant
        self.saved: list[RunRecord] = []
        self.acknowledged: list[Event] = []
        self.slow_running = anyio.Event()

    async def save_run(self, record: RunRecord) -> None:
        await self.store.save_run(self.tenant, record.model_dump(mode="json"), user="alice")
        self.saved.append(record)

    async def add_events(self, events: Sequence[Event]) -> None:
        await self.store.add_events(self.tenant, events[0].run_id, [e.as_json() for e in events])
        self.acknowledged.extend(events)
        if any(e.task_id == "slow" and e.type == "task_running" for e in events):
            self.slow_running.set()


async def test_killing_redis_mid_run_ends_the_run_with_store_unavailable(durable_redis: RedisServer) -> None:
    gate = anyio.Event()
    tools = ScriptedTools()
    tools.add("echo")
    tools.add("wait", blocking(gate))
    plan = make_plan(
        {
            "first": task("echo", {"value": 1}),
            "slow": task("wait", deps=("first",)),
            "last": task("echo", {"value": "$<slow.output>"}, deps=("slow",)),
        }
    )
    async with RedisStore(durable_redis.url) as store:
        sink = StoreSink(store, "acme")
        executor = Executor(tools, sink, clock=FakeClock(), sleep=RecordingSleep())

        with (
            anyio.fail_after(5),  # a clear error, not a hang
            pytest.RaisesGroup(StoreUnavailable, allow_unwrapped=True, flatten_subgroups=True),
        ):
            async with executor.start(plan, run_id="run-1") as handle:
                await sink.slow_running.wait()
                durable_redis.kill()
                gate.set()  # the run goes on and has events to write
                await handle.wait()

        durable_redis.start()  # the same data directory and append-only file

        with anyio.fail_after(5):
            stored = await store.get_run("acme", "run-1")
            assert stored == sink.saved[0].model_dump(mode="json")  # the last record saved
            events = await store.list_events("acme", "run-1")
            assert events == [e.as_json() for e in sink.acknowledged]
            assert [e["type"] for e in events][:2] == ["run_started", "task_running"]
