"""on_failure "abort": stop, cancel, then undo succeeded tasks in reverse completion order."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from planexec.executor import CompensationStatus, Executor, RunErrorCode, RunStatus, TaskStatus
from planexec.registry import Catalog, demo_source, ledger_snapshot, reset_demo_state

from .support import Harness, blocking, failing, make_plan, no_jitter, task

pytestmark = pytest.mark.anyio


def undo(key: str) -> dict[str, Any]:
    return {"tool_name": "undo", "parameters": {"key": key}}


def chain_then_failure(**b_fields: Any) -> Any:
    return make_plan(
        {
            "a": task("do", {"key": "a"}, compensation=undo("$<a.output.key>")),
            "b": task("do", {"key": "b"}, deps=("a",), compensation=undo("$<b.output.key>"), **b_fields),
            "c": task("do", {"key": "c"}, deps=("b",), compensation=undo("$<c.output.key>")),
            "d": task("boom", deps=("c",), retry={"max_attempts": 1}),
        }
    )


async def test_failed_task_runs_compensations_in_reverse_completion_order(harness: Harness) -> None:
    harness.tools.add("do")
    harness.tools.add("undo")
    harness.tools.add("boom", failing())
    record = await harness.executor().run(chain_then_failure())

    undo_calls = harness.tools.called("undo")
    assert [c.arguments["key"] for c in undo_calls] == ["c", "b", "a"]
    assert undo_calls[0].meta["planexec/task_id"] == "c"
    assert undo_calls[0].meta["planexec/idempotency_key"].endswith(":c:compensation")
    assert {tid: record.tasks[tid].status for tid in "abcd"} == {
        "a": TaskStatus.COMPENSATED,
        "b": TaskStatus.COMPENSATED,
        "c": TaskStatus.COMPENSATED,
        "d": TaskStatus.FAILED,
    }
    compensation = record.tasks["a"].compensation
    assert compensation is not None
    assert compensation.status is CompensationStatus.SUCCEEDED
    assert [a.n for a in compensation.attempts] == [1]
    assert compensation.attempts[0].arguments == {"key": "a"}
    assert compensation.error is None
    assert compensation.finished_at is not None and compensation.started_at < compensation.finished_at
    assert record.tasks["d"].compensation is None
    assert record.status is RunStatus.FAILED
    assert record.error is not None and record.error.code is RunErrorCode.TOOL_ERROR


async def test_compensations_run_one_at_a_time(harness: Harness) -> None:
    in_flight, peak = 0, 0

    async def careful_undo(arguments: dict[str, Any], meta: dict[str, Any]) -> Any:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(3):
            await anyio.lowlevel.checkpoint()
        in_flight -= 1
        return {}

    harness.tools.add("do")
    harness.tools.add("undo", careful_undo)
    harness.tools.add("boom", failing())
    plan = make_plan(
        {f"w{i}": task("do", {"key": i}, compensation=undo("x")) for i in range(5)}
        | {"z": task("boom", deps=tuple(f"w{i}" for i in range(5)))}
    )
    await harness.executor().run(plan)
    assert len(harness.tools.called("undo")) == 5
    assert peak == 1


async def test_failed_compensation_is_recorded_and_the_others_still_run(harness: Harness) -> None:
    async def undo_tool(arguments: dict[str, Any], meta: dict[str, Any]) -> Any:
        if arguments["key"] == "b":
            return await failing("cannot undo b", retryable=True)(arguments, meta)
        return {}

    harness.tools.add("do")
    harness.tools.add("undo", undo_tool)
    harness.tools.add("boom", failing())
    record = await harness.executor().run(chain_then_failure(retry=no_jitter()))

    b = record.tasks["b"]
    assert b.status is TaskStatus.COMPENSATION_FAILED
    assert b.compensation is not None
    assert b.compensation.status is CompensationStatus.FAILED
    assert len(b.compensation.attempts) == 3  # the task's retry policy
    assert b.compensation.error is not None and b.compensation.error.code is RunErrorCode.TOOL_ERROR
    assert harness.sleep.waits == [0.5, 1.0]
    assert record.tasks["a"].status is TaskStatus.COMPENSATED
    assert record.tasks["c"].status is TaskStatus.COMPENSATED
    assert record.status is RunStatus.FAILED


async def test_compensation_may_read_its_own_and_other_succeeded_outputs(harness: Harness) -> None:
    harness.tools.add("do")
    harness.tools.add("undo")
    harness.tools.add("boom", failing())
    plan = make_plan(
        {
            "account": task("do", {"id": 42}),
            "mail": task(
                "do",
                {"message_id": "m-1"},
                deps=("account",),
                compensation={
                    "tool_name": "undo",
                    "parameters": {"id": "$<mail.output.message_id>", "account": "$<account.output.id>"},
                },
            ),
            "fail": task("boom", deps=("mail",)),
        }
    )
    record = await harness.executor().run(plan)
    assert [c.arguments for c in harness.tools.called("undo")] == [{"id": "m-1", "account": 42}]
    assert record.tasks["mail"].status is TaskStatus.COMPENSATED


async def test_compensation_with_a_bad_reference_fails_without_a_call(harness: Harness) -> None:
    harness.tools.add("do")
    harness.tools.add("undo")
    harness.tools.add("boom", failing())
    plan = make_plan(
        {
            "a": task("do", {"key": "a"}, compensation=undo("$<a.output.nope>")),
            "z": task("boom", deps=("a",)),
        }
    )
    record = await harness.executor().run(plan)
    a = record.tasks["a"]
    assert a.status is TaskStatus.COMPENSATION_FAILED
    assert a.compensation is not None and a.compensation.attempts == []
    assert a.compensation.error is not None and a.compensation.error.code is RunErrorCode.BAD_REFERENCE
    assert harness.tools.called("undo") == []


async def test_abort_cancels_running_tasks_and_does_not_compensate_them(harness: Harness) -> None:
    gate, started = anyio.Event(), anyio.Event()
    harness.tools.add("do")
    harness.tools.add("undo")
    harness.tools.add("slow", blocking(gate, started))

    async def boom_after_slow_started(arguments: dict[str, Any], meta: dict[str, Any]) -> Any:
        await started.wait()
        return await failing()(arguments, meta)

    harness.tools.add("boom", boom_after_slow_started)
    plan = make_plan(
        {
            "done": task("do", {"key": "done"}, compensation=undo("done")),
            "slow": task("slow", compensation=undo("slow")),
            "boom": task("boom", deps=("done",)),
            "later": task("do", deps=("boom",)),
        }
    )
    record = await harness.executor().run(plan)
    slow = record.tasks["slow"]
    assert slow.status is TaskStatus.CANCELLED
    assert slow.error is not None and slow.error.code is RunErrorCode.CANCELLED
    assert slow.attempts[0].error is not None and slow.attempts[0].error.code is RunErrorCode.CANCELLED
    assert slow.compensation is None
    assert [c.arguments["key"] for c in harness.tools.called("undo")] == ["done"]
    later = record.tasks["later"]
    assert later.status is TaskStatus.SKIPPED
    assert later.error is not None and later.error.code is RunErrorCode.UPSTREAM_FAILED
    assert later.error.detail == {"upstream": "boom"}


async def test_tasks_not_started_when_the_run_aborts_are_skipped(harness: Harness) -> None:
    harness.tools.add("do")
    harness.tools.add("boom", failing())
    plan = make_plan(
        {"boom": task("boom"), "after_boom": task("do", deps=("boom",)), "other": task("do")},
        max_concurrency=1,
    )
    record = await harness.executor().run(plan)
    assert harness.tools.task_order() == ["boom"]
    statuses = {tid: (t.status, t.error.code if t.error else None) for tid, t in record.tasks.items()}
    assert statuses == {
        "boom": (TaskStatus.FAILED, RunErrorCode.TOOL_ERROR),
        "after_boom": (TaskStatus.SKIPPED, RunErrorCode.UPSTREAM_FAILED),
        "other": (TaskStatus.SKIPPED, RunErrorCode.CANCELLED),
    }


async def test_demo_ledger_write_is_undone_by_ledger_delete() -> None:
    reset_demo_state()
    plan = make_plan(
        {
            "write": task(
                "ledger_write",
                {"key": "k", "value": 1},
                compensation={"tool_name": "ledger_delete", "parameters": {"key": "$<write.output.key>"}},
            ),
            "fail": task("fail", {"message": "no"}, deps=("write",)),
        }
    )
    record = await Executor(Catalog([demo_source()])).run(plan)
    assert record.tasks["write"].status is TaskStatus.COMPENSATED
    assert ledger_snapshot() == {}
