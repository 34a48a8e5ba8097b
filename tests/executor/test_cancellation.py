"""Cooperative cancellation and the plan deadline: both cancel what runs and compensate."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from planexec.executor import EventType, RunErrorCode, RunStatus, TaskStatus

from .support import Harness, blocking, make_plan, task

pytestmark = pytest.mark.anyio


def plan_with_a_blocked_task(**fields: Any) -> Any:
    return make_plan(
        {
            "write": task("do", {"key": "w"}, compensation={"tool_name": "undo", "parameters": {"key": "w"}}),
            "block": task("slow", deps=("write",)),
            "after": task("do", deps=("block",)),
            "side": task("do", deps=("write",)),
        },
        **fields,
    )


async def test_cancel_stops_running_tasks_and_still_compensates(harness: Harness) -> None:
    gate, started = anyio.Event(), anyio.Event()
    harness.tools.add("do")
    harness.tools.add("undo")
    harness.tools.add("slow", blocking(gate, started))
    async with harness.executor().start(plan_with_a_blocked_task()) as handle:
        await started.wait()
        handle.cancel()
        record = await handle.wait()

    assert record.status is RunStatus.CANCELLED
    assert record.error is not None and record.error.code is RunErrorCode.CANCELLED
    block = record.tasks["block"]
    assert block.status is TaskStatus.CANCELLED
    assert block.error is not None and block.error.code is RunErrorCode.CANCELLED
    assert [a.error.code for a in block.attempts if a.error] == [RunErrorCode.CANCELLED]
    assert record.tasks["write"].status is TaskStatus.COMPENSATED
    assert record.tasks["after"].status is TaskStatus.SKIPPED
    assert [c.arguments for c in harness.tools.called("undo")] == [{"key": "w"}]
    assert record.output is None


async def test_cancel_after_the_run_ended_changes_nothing(harness: Harness) -> None:
    harness.tools.add("do")
    async with harness.executor().start(make_plan({"a": task("do")})) as handle:
        record = await handle.wait()
        handle.cancel()
    assert record.status is RunStatus.SUCCEEDED
    assert handle.record() == record


async def test_an_exception_in_the_body_cancels_the_run_cooperatively(harness: Harness) -> None:
    gate, started = anyio.Event(), anyio.Event()
    harness.tools.add("do")
    harness.tools.add("undo")
    harness.tools.add("slow", blocking(gate, started))
    with pytest.raises(LookupError):
        async with harness.executor().start(plan_with_a_blocked_task()) as handle:
            await started.wait()
            raise LookupError("the caller gave up")
    record = handle.record()
    assert record.status is RunStatus.CANCELLED
    assert record.tasks["write"].status is TaskStatus.COMPENSATED


async def test_leaving_the_block_waits_for_the_run(harness: Harness) -> None:
    gate, started = anyio.Event(), anyio.Event()
    harness.tools.add("do")
    harness.tools.add("slow", blocking(gate, started))

    async def release() -> None:
        gate.set()

    async with anyio.create_task_group() as tg:
        async with harness.executor().start(make_plan({"a": task("slow")})) as handle:
            await started.wait()
            tg.start_soon(release)  # runs only once the body is left
    assert handle.record().status is RunStatus.SUCCEEDED


async def test_deadline_cancels_running_tasks_compensates_and_fails_the_run(harness: Harness) -> None:
    harness.tools.add("do")
    harness.tools.add("undo")
    harness.tools.add("slow", blocking(anyio.Event()))  # never released: only the deadline ends it
    async with harness.executor().start(plan_with_a_blocked_task(timeout_s=0.05)) as handle:
        record = await handle.wait()
        events = [e.type async for e in handle.events()]

    assert record.status is RunStatus.FAILED
    assert record.error is not None
    assert (record.error.code, record.error.detail) == (RunErrorCode.DEADLINE_EXCEEDED, {"timeout_s": 0.05})
    block = record.tasks["block"]
    assert block.status is TaskStatus.CANCELLED
    assert block.error is not None and block.error.code is RunErrorCode.DEADLINE_EXCEEDED
    assert record.tasks["after"].status is TaskStatus.SKIPPED
    assert record.tasks["write"].status is TaskStatus.COMPENSATED
    assert events.index(EventType.RUN_ABORTING) < events.index(EventType.COMPENSATION_STARTED)
    assert events[-1] is EventType.RUN_FAILED


async def test_a_run_that_finishes_in_time_ignores_its_deadline(harness: Harness) -> None:
    harness.tools.add("do")
    record = await harness.executor().run(make_plan({"a": task("do")}, timeout_s=60))
    assert record.status is RunStatus.SUCCEEDED
