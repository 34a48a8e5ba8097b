"""Error handlers (DESIGN §2): a handler stands in for the task that failed."""

from __future__ import annotations

import anyio
import pytest

from planexec.executor import EventType, RunErrorCode, RunStatus, TaskStatus
from planexec.schemas import PlanObject

from .support import Harness, blocking, failing, make_plan, task

pytestmark = pytest.mark.anyio


def handled_plan() -> PlanObject:
    return make_plan(
        {
            "fetch": task(
                "fetch", {"q": 1}, retry={"max_attempts": 1}, error_handling={"on_error": "from_cache"}
            ),
            "from_cache": task("cache", {"why": "$<fetch.error>", "code": "$<fetch.error.code>"}),
            "summary": task("echo", {"rows": "$<fetch.output.rows>"}, deps=("fetch",)),
        }
    )


async def test_handler_output_becomes_the_recovered_tasks_output(harness: Harness) -> None:
    harness.tools.add("fetch", failing("upstream down"))
    harness.tools.add("echo")

    async def cache(arguments: dict[str, object], meta: dict[str, object]) -> object:
        return {"rows": [1, 2], "why": arguments["why"]}

    harness.tools.add("cache", cache)
    record = await harness.executor().run(handled_plan())

    fetch = record.tasks["fetch"]
    assert fetch.status is TaskStatus.RECOVERED
    assert fetch.handled_by == "from_cache"
    assert fetch.output == record.tasks["from_cache"].output
    assert fetch.error is not None and fetch.error.code is RunErrorCode.TOOL_ERROR
    assert record.tasks["from_cache"].status is TaskStatus.SUCCEEDED
    assert record.tasks["summary"].output == {"rows": [1, 2]}
    assert record.status is RunStatus.SUCCEEDED
    assert record.output == {"summary": {"rows": [1, 2]}}


async def test_handler_reads_the_failed_tasks_error_object(harness: Harness) -> None:
    harness.tools.add("fetch", failing("upstream down"))
    harness.tools.add("cache")
    harness.tools.add("echo")
    await harness.executor().run(handled_plan())
    (call,) = harness.tools.called("cache")
    assert call.arguments == {
        "why": {"code": "tool_error", "message": "upstream down", "retryable": False, "detail": {}},
        "code": "tool_error",
    }


async def test_failed_handler_leaves_the_task_failed_and_the_run_failed(harness: Harness) -> None:
    harness.tools.add("fetch", failing("upstream down"))
    harness.tools.add("cache", failing("cache cold"))
    harness.tools.add("echo")
    record = await harness.executor().run(handled_plan())

    fetch = record.tasks["fetch"]
    assert fetch.status is TaskStatus.FAILED
    assert fetch.handled_by is None
    assert fetch.error is not None
    assert fetch.error.detail["handler"] == "from_cache"
    assert fetch.error.detail["handler_error"]["code"] == "tool_error"
    assert record.tasks["from_cache"].status is TaskStatus.FAILED
    assert record.tasks["summary"].status is TaskStatus.SKIPPED
    assert record.status is RunStatus.FAILED
    assert record.error is not None and record.error.detail["task_id"] == "fetch"
    assert harness.tools.called("echo") == []


async def test_handler_is_skipped_without_a_call_when_its_task_succeeds(harness: Harness) -> None:
    harness.tools.add("cache")
    harness.tools.add("echo")

    async def fetch(arguments: dict[str, object], meta: dict[str, object]) -> object:
        return {"rows": []}

    harness.tools.add("fetch", fetch)
    record = await harness.executor().run(handled_plan())
    assert record.tasks["from_cache"].status is TaskStatus.SKIPPED
    assert record.tasks["from_cache"].error is None
    assert harness.tools.called("cache") == []
    assert record.status is RunStatus.SUCCEEDED


async def test_handler_waits_for_its_own_dependencies(harness: Harness) -> None:
    harness.tools.add("boom", failing())
    harness.tools.add("t")
    plan = make_plan(
        {
            "prep": task("t", {"token": "abc"}),
            "work": task("boom", retry={"max_attempts": 1}, error_handling={"on_error": "fallback"}),
            "fallback": task("t", {"token": "$<prep.output.token>"}, deps=("prep",)),
        }
    )
    record = await harness.executor().run(plan)
    assert record.tasks["work"].status is TaskStatus.RECOVERED
    assert record.tasks["work"].output == {"token": "abc"}
    assert record.status is RunStatus.SUCCEEDED


async def test_failure_then_recovery_are_both_events(harness: Harness) -> None:
    harness.tools.add("fetch", failing())
    harness.tools.add("cache")
    harness.tools.add("echo")
    async with harness.executor().start(handled_plan()) as handle:
        events = [e async for e in handle.events() if e.task_id == "fetch"]
    assert [e.type for e in events] == [
        EventType.TASK_RUNNING,
        EventType.TASK_FAILED,
        EventType.TASK_RECOVERED,
    ]
    assert events[1].detail["handler"] == "from_cache"
    assert events[2].detail == {"handled_by": "from_cache"}


async def test_a_bad_reference_is_a_failure_the_handler_recovers(harness: Harness) -> None:
    harness.tools.add("t")
    plan = make_plan(
        {
            "src": task("t", {"a": 1}),
            "use": task("t", {"b": "$<src.output.b>"}, deps=("src",), error_handling={"on_error": "dflt"}),
            "dflt": task("t", {"b": 0, "why": "$<use.error.code>"}),
        }
    )
    record = await harness.executor().run(plan)
    assert record.tasks["use"].status is TaskStatus.RECOVERED
    assert record.tasks["use"].output == {"b": 0, "why": "bad_reference"}
    assert harness.tools.task_order() == ["src", "dflt"]


async def test_handler_skipped_because_its_own_dependency_failed_leaves_the_task_failed(
    harness: Harness,
) -> None:
    harness.tools.add("boom", failing())
    harness.tools.add("t")
    plan = make_plan(
        {
            "work": task("boom", error_handling={"on_error": "fallback"}),
            "z_prep": task("boom"),  # runs second: same rank as work, larger id
            "fallback": task("t", {"x": "$<z_prep.output>"}, deps=("z_prep",)),
            "after": task("t", deps=("work",)),
        },
        on_failure="continue",
        max_concurrency=1,
    )
    record = await harness.executor().run(plan)
    assert record.tasks["fallback"].status is TaskStatus.SKIPPED
    work = record.tasks["work"]
    assert work.status is TaskStatus.FAILED
    assert work.error is not None
    assert work.error.detail["handler"] == "fallback"
    assert work.error.detail["handler_error"]["code"] == "upstream_failed"
    assert record.tasks["after"].status is TaskStatus.SKIPPED
    assert harness.tools.called("t") == []


async def test_handler_cancelled_by_an_abort_leaves_its_task_failed(harness: Harness) -> None:
    gate, started = anyio.Event(), anyio.Event()
    harness.tools.add("boom", failing())
    harness.tools.add("slow", blocking(gate, started))

    async def boom_once_handler_runs(arguments: dict[str, object], meta: dict[str, object]) -> object:
        await started.wait()
        return await failing()(arguments, meta)

    harness.tools.add("late_boom", boom_once_handler_runs)
    plan = make_plan(
        {
            "work": task("boom", error_handling={"on_error": "fallback"}),
            "fallback": task("slow"),
            "other": task("late_boom"),
        }
    )
    record = await harness.executor().run(plan)
    assert record.tasks["fallback"].status is TaskStatus.CANCELLED
    work = record.tasks["work"]
    assert work.status is TaskStatus.FAILED
    assert work.error is not None and work.error.detail["handler_error"]["code"] == "cancelled"
    assert record.error is not None and record.error.detail["failed_tasks"] == ["other", "work"]
