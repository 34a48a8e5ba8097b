"""on_failure "continue", upstream failures and bad references."""

from __future__ import annotations

import pytest

from planexec.executor import RunErrorCode, RunStatus, TaskStatus

from .support import Harness, failing, make_plan, task

pytestmark = pytest.mark.anyio


async def test_continue_runs_everything_not_downstream_of_the_failure(harness: Harness) -> None:
    harness.tools.add("t")
    harness.tools.add("boom", failing())
    plan = make_plan(
        {
            "bad": task("boom", compensation={"tool_name": "t", "parameters": {}}),
            "child": task("t", deps=("bad",)),
            "grandchild": task("t", deps=("child",)),
            "good": task("t", compensation={"tool_name": "t", "parameters": {"undo": True}}),
            "after_good": task("t", deps=("good",)),
        },
        on_failure="continue",
    )
    record = await harness.executor().run(plan)

    statuses = {tid: t.status for tid, t in record.tasks.items()}
    assert statuses == {
        "bad": TaskStatus.FAILED,
        "child": TaskStatus.SKIPPED,
        "grandchild": TaskStatus.SKIPPED,
        "good": TaskStatus.SUCCEEDED,
        "after_good": TaskStatus.SUCCEEDED,
    }
    for tid in ("child", "grandchild"):
        error = record.tasks[tid].error
        assert error is not None
        assert (error.code, error.detail) == (RunErrorCode.UPSTREAM_FAILED, {"upstream": "bad"})
    assert [c.arguments for c in harness.tools.called("t")] == [{}, {}]  # no compensation call
    assert record.status is RunStatus.FAILED
    assert record.error is not None
    assert record.error.detail == {"task_id": "bad", "failed_tasks": ["bad"]}
    assert record.output is None


async def test_continue_with_several_failures_lists_them_all(harness: Harness) -> None:
    harness.tools.add("boom", failing())
    plan = make_plan({"x": task("boom"), "y": task("boom")}, on_failure="continue")
    record = await harness.executor().run(plan)
    assert record.error is not None
    assert sorted(record.error.detail["failed_tasks"]) == ["x", "y"]


async def test_a_recovered_failure_does_not_fail_the_run_under_continue(harness: Harness) -> None:
    harness.tools.add("boom", failing())
    harness.tools.add("t")
    plan = make_plan(
        {"x": task("boom", error_handling={"on_error": "h"}), "h": task("t", {"ok": 1})},
        on_failure="continue",
    )
    record = await harness.executor().run(plan)
    assert record.status is RunStatus.SUCCEEDED
    assert record.output == {"x": {"ok": 1}}


async def test_missing_path_fails_the_task_without_calling_the_tool(harness: Harness) -> None:
    harness.tools.add("t")
    plan = make_plan(
        {
            "a": task("t", {"rows": [1], "total": 3}),
            "b": task("t", {"n": "$<a.output.count>"}, deps=("a",), retry={"max_attempts": 5}),
        }
    )
    record = await harness.executor().run(plan)
    b = record.tasks["b"]
    assert b.status is TaskStatus.FAILED
    assert b.attempts == []
    assert b.error is not None
    assert (b.error.code, b.error.retryable) == (RunErrorCode.BAD_REFERENCE, False)
    assert b.error.detail["reference"] == "$<a.output.count>"
    assert b.error.detail["available"] == ["rows", "total"]
    assert harness.tools.task_order() == ["a"]
    assert harness.sleep.waits == []
    assert record.status is RunStatus.FAILED


async def test_bad_reference_in_the_plan_output_fails_the_run(harness: Harness) -> None:
    harness.tools.add("t")
    plan = make_plan({"a": task("t", {"x": 1})}, output="$<a.output.y>")
    record = await harness.executor().run(plan)
    assert record.tasks["a"].status is TaskStatus.SUCCEEDED
    assert record.status is RunStatus.FAILED
    assert record.error is not None and record.error.code is RunErrorCode.BAD_REFERENCE


async def test_unknown_dependency_is_refused_before_anything_runs(harness: Harness) -> None:
    harness.tools.add("t")
    plan = make_plan({"a": task("t", deps=("ghost",))})
    with pytest.raises(ValueError, match="ghost"):
        await harness.executor().run(plan)
    assert harness.tools.calls == []
