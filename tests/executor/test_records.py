"""The run record, the events and the sink hook (DESIGN §5), and the run's output."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pytest

from planexec.executor import Event, EventType, RunRecord, RunStatus, TaskStatus
from planexec.executor._records import UNTOUCHED_TASK

from .support import Harness, failing, make_plan, task

pytestmark = pytest.mark.anyio

ISO_MICROSECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def sample_plan() -> Any:
    return make_plan(
        {
            "a": task("t", {"x": "$<inputs.x>"}),
            "b": task("flaky", {"y": "$<a.output.x>"}, deps=("a",), retry={"max_attempts": 2}),
        },
        inputs={"x": 1},
    )


async def test_record_json_has_exactly_the_documented_shape(harness: Harness) -> None:
    harness.tools.add("t")
    harness.tools.add("flaky", failing(retryable=True, times=1))
    plan = sample_plan()
    record = await harness.executor().run(plan, run_id="r-1")
    data = record.model_dump(mode="json")

    assert list(data) == [
        "run_id",
        "plan_id",
        "status",
        "output",
        "error",
        "started_at",
        "finished_at",
        "tasks",
    ]
    assert (data["run_id"], data["plan_id"], data["status"], data["error"]) == (
        "r-1",
        plan.plan_id,
        "succeeded",
        None,
    )
    assert data["output"] == {"b": {"y": 1}}
    b = data["tasks"]["b"]
    assert list(b) == ["status", "attempts", "output", "error", "handled_by", "compensation"]
    failed, succeeded = b["attempts"]
    assert list(failed) == ["n", "arguments", "error", "started_at", "finished_at"]
    assert list(succeeded) == ["n", "arguments", "output", "started_at", "finished_at"]
    assert failed["error"] == {
        "code": "tool_error",
        "message": "boom",
        "retryable": True,
        "detail": {},
    }
    stamps = [data["started_at"], data["finished_at"], failed["started_at"], succeeded["finished_at"]]
    assert all(ISO_MICROSECONDS.match(s) for s in stamps)


async def test_record_round_trips_through_json(harness: Harness) -> None:
    harness.tools.add("t")
    harness.tools.add("flaky", failing(retryable=True, times=1))
    record = await harness.executor().run(sample_plan())
    assert RunRecord.model_validate_json(record.model_dump_json()) == record


async def test_event_seq_starts_at_one_and_increases_by_one(harness: Harness) -> None:
    harness.tools.add("t")
    harness.tools.add("flaky", failing(retryable=True, times=1))
    async with harness.executor().start(sample_plan(), run_id="r-2") as handle:
        events = [e async for e in handle.events()]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert {e.run_id for e in events} == {"r-2"}
    assert [(e.type, e.task_id, e.attempt) for e in events] == [
        (EventType.RUN_STARTED, None, None),
        (EventType.TASK_RUNNING, "a", 1),
        (EventType.TASK_SUCCEEDED, "a", 1),
        (EventType.TASK_RUNNING, "b", 1),
        (EventType.ATTEMPT_FAILED, "b", 1),
        (EventType.TASK_SUCCEEDED, "b", 2),
        (EventType.RUN_SUCCEEDED, None, None),
    ]
    retry = events[4]
    assert retry.detail["retry_in_s"] == harness.sleep.waits[0]
    assert all(earlier.at < later.at for earlier, later in zip(events, events[1:], strict=False))


async def test_event_json_form(harness: Harness) -> None:
    harness.tools.add("t")
    async with harness.executor().start(make_plan({"a": task("t")}), run_id="r") as handle:
        first = [e async for e in handle.events()][1]
    data = first.as_json()
    assert list(data) == ["seq", "at", "run_id", "task_id", "type", "attempt", "detail"]
    assert (data["seq"], data["run_id"], data["task_id"], data["type"], data["attempt"]) == (
        2,
        "r",
        "a",
        "task_running",
        1,
    )
    assert ISO_MICROSECONDS.match(data["at"])


async def test_a_late_reader_still_sees_every_event(harness: Harness) -> None:
    harness.tools.add("t")
    async with harness.executor().start(make_plan({"a": task("t")})) as handle:
        await handle.wait()
        first = [e.seq async for e in handle.events()]
        second = [e.seq async for e in handle.events()]
    assert first == second == [1, 2, 3, 4]


class MemorySink:
    def __init__(self) -> None:
        self.saved: list[RunRecord] = []
        self.events: list[Event] = []
        self.log: list[str] = []

    async def save_run(self, record: RunRecord) -> None:
        self.saved.append(record)
        self.log.append(f"save:{record.status}")

    async def add_events(self, events: Sequence[Event]) -> None:
        self.events.extend(events)
        self.log.append("events")


async def test_sink_gets_the_run_at_start_every_event_then_the_final_record(harness: Harness) -> None:
    harness.tools.add("t")
    sink = MemorySink()
    record = await harness.executor(sink=sink).run(make_plan({"a": task("t"), "b": task("t", deps=("a",))}))
    assert [r.status for r in sink.saved] == [RunStatus.RUNNING, RunStatus.SUCCEEDED]
    assert sink.saved[0].finished_at is None
    assert sink.saved[-1] == record
    assert sink.log[0] == "save:running" and sink.log[-1] == "save:succeeded"
    assert [e.seq for e in sink.events] == list(range(1, 7))



async def test_untouched_tasks_share_one_pending_record_and_others_get_their_own(harness: Harness) -> None:
    harness.tools.add("t")
    sink = MemorySink()
    plan = make_plan({"a": task("t"), "b": task("t", deps=("a",)), "c": task("t", deps=("b",))})
    await harness.executor(sink=sink).run(plan)
    first, final = sink.saved
    assert first.tasks["a"] is first.tasks["b"] is first.tasks["c"] is UNTOUCHED_TASK
    untouched = UNTOUCHED_TASK
    assert (untouched.status, untouched.attempts, untouched.output) == (TaskStatus.PENDING, [], None)
    assert all(final.tasks[tid] is not UNTOUCHED_TASK for tid in "abc")
    assert [len(final.tasks[tid].attempts) for tid in "abc"] == [1, 1, 1]

async def test_plan_output_is_resolved_from_task_outputs(harness: Harness) -> None:
    harness.tools.add("t")
    plan = make_plan(
        {"a": task("t", {"n": 2}), "b": task("t", {"s": "x"})},
        output={"total": "$<a.output.n>", "label": "n=$<a.output.n> s=$<b.output.s>"},
    )
    record = await harness.executor().run(plan)
    assert record.output == {"total": 2, "label": "n=2 s=x"}


async def test_without_plan_output_the_run_output_maps_sink_tasks_to_their_outputs(harness: Harness) -> None:
    harness.tools.add("t")
    plan = make_plan(
        {"a": task("t", {"n": 1}), "b": task("t", {"m": 2}, deps=("a",)), "c": task("t", {"k": 3})}
    )
    record = await harness.executor().run(plan)
    assert record.output == {"b": {"m": 2}, "c": {"k": 3}}


async def test_run_inputs_override_plan_inputs_key_by_key(harness: Harness) -> None:
    harness.tools.add("t")
    plan = make_plan({"a": task("t", {"q": "$<inputs.q>", "r": "$<inputs.r>"})}, inputs={"q": 1, "r": 2})
    record = await harness.executor().run(plan, {"q": 10})
    assert record.tasks["a"].output == {"q": 10, "r": 2}


async def test_run_started_event_carries_the_effective_inputs(harness: Harness) -> None:
    harness.tools.add("t")
    plan = make_plan({"a": task("t", {"q": "$<inputs.q>"})}, inputs={"q": 1, "r": [2]})
    async with harness.executor().start(plan, {"q": 10, "s": "new"}) as handle:
        first = [e async for e in handle.events()][0]
    assert first.type is EventType.RUN_STARTED
    assert first.detail == {"plan_id": plan.plan_id, "tasks": 1, "inputs": {"q": 10, "r": [2], "s": "new"}}
    assert first.as_json()["detail"]["inputs"] == {"q": 10, "r": [2], "s": "new"}


async def test_snapshot_during_a_run_is_running_without_a_finish_time(harness: Harness) -> None:
    harness.tools.add("t")
    async with harness.executor().start(make_plan({"a": task("t")})) as handle:
        live = handle.record()
        final = await handle.wait()
    assert (live.status, live.finished_at) == (RunStatus.RUNNING, None)
    assert final.finished_at is not None


async def test_durations_come_from_the_clocks_monotonic_time(harness: Harness) -> None:
    harness.tools.add("t")  # the fake clock's monotonic time advances 1 ms per reading
    async with harness.executor().start(make_plan({"a": task("t")})) as handle:
        events = {e.type: e for e in [e async for e in handle.events()]}
    assert events[EventType.TASK_SUCCEEDED].detail == {"duration_s": 0.001}
    assert events[EventType.RUN_SUCCEEDED].detail == {"error": None, "duration_s": 0.003}
