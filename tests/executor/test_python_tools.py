"""The executor over the real in-process path: a Catalog of Python tools (what the
benchmark and the demo run), events, _meta, and result validation."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest

from planexec.executor import Event, EventType, Executor, RunErrorCode, RunStatus, SystemClock, TaskStatus
from planexec.registry import Catalog, PythonToolSource, RetryableToolError, ToolContext

from .support import RecordingSleep, make_plan, no_jitter, task

pytestmark = pytest.mark.anyio

_seen: list[dict[str, Any]] = []
_flaky_calls: dict[str, int] = {}


async def noop() -> None:
    return None


async def double(x: int) -> int:
    return 2 * x


async def lies() -> int:
    return "not a number"  # type: ignore[return-value]


async def seen(ctx: ToolContext) -> dict[str, Any]:
    context = {
        "run_id": ctx.run_id,
        "task_id": ctx.task_id,
        "attempt": ctx.attempt,
        "idempotency_key": ctx.idempotency_key,
    }
    _seen.append(context)
    if ctx.attempt < 2:
        raise RetryableToolError("not yet")
    return context


def catalog() -> Catalog:
    return Catalog([PythonToolSource("py", [noop, double, lies, seen])])


async def test_outputs_of_python_tools_flow_through_references() -> None:
    plan = make_plan(
        {
            "a": task("double", {"x": 2}),
            "b": task("double", {"x": "$<a.output.result>"}, deps=("a",)),
            "c": task("noop", deps=("b",)),
        },
        output={"b": "$<b.output.result>"},
    )
    record = await Executor(catalog()).run(plan)
    assert record.status is RunStatus.SUCCEEDED
    assert record.output == {"b": 8}
    assert record.tasks["a"].output == {"result": 4}
    assert record.tasks["b"].attempts[0].arguments == {"x": 4}
    assert record.tasks["c"].output == {"result": None}


async def test_each_task_makes_a_running_and_a_succeeded_event() -> None:
    plan = make_plan({"a": task("noop"), "b": task("noop", deps=("a",))})
    async with Executor(catalog()).start(plan, run_id="r") as handle:
        events = [event async for event in handle.events()]
    kinds = [(e.type, e.task_id, e.attempt) for e in events]
    assert kinds == [
        (EventType.RUN_STARTED, None, None),
        (EventType.TASK_RUNNING, "a", 1),
        (EventType.TASK_SUCCEEDED, "a", 1),
        (EventType.TASK_RUNNING, "b", 1),
        (EventType.TASK_SUCCEEDED, "b", 1),
        (EventType.RUN_SUCCEEDED, None, None),
    ]
    assert [e.seq for e in events] == list(range(1, 7))
    assert all(e.run_id == "r" and e.at.tzinfo is not None for e in events)
    assert events[1].detail == {"tool": "noop"}
    assert set(events[2].detail) == {"duration_s"}


async def test_a_return_value_the_annotation_forbids_fails_the_task_with_tool_error() -> None:
    plan = make_plan({"a": task("lies", retry=no_jitter(max_attempts=3))})
    record = await Executor(catalog(), sleep=RecordingSleep()).run(plan)
    a = record.tasks["a"]
    assert record.status is RunStatus.FAILED
    assert a.status is TaskStatus.FAILED
    assert a.error is not None
    assert (a.error.code, a.error.retryable) == (RunErrorCode.TOOL_ERROR, False)
    assert len(a.attempts) == 1  # not retryable: tried once


async def test_python_tools_see_the_calls_meta_on_every_attempt() -> None:
    _seen.clear()
    plan = make_plan({"job": task("seen", retry=no_jitter(max_attempts=3))})
    record = await Executor(catalog(), sleep=RecordingSleep()).run(plan, run_id="run-9")
    assert record.tasks["job"].status is TaskStatus.SUCCEEDED
    assert len(record.tasks["job"].attempts) == 2
    assert _seen == [
        {"run_id": "run-9", "task_id": "job", "attempt": n, "idempotency_key": "run-9:job"} for n in (1, 2)
    ]


def test_events_are_immutable_values() -> None:
    event = Event(1, SystemClock().now(), "r", "a", EventType.TASK_RUNNING, 1, {"tool": "t"})
    with pytest.raises(AttributeError):
        event.seq = 2  # type: ignore[misc]
    assert event == Event(1, event.at, "r", "a", EventType.TASK_RUNNING, 1, {"tool": "t"})
    assert event.as_json()["type"] == "task_running"


def test_system_clock_reads_utc_and_a_monotonic_time() -> None:
    clock = SystemClock()
    now = clock.now()
    assert now.tzinfo is UTC
    first = clock.monotonic()
    assert clock.monotonic() >= first
