"""Scheduling (DESIGN §5): as soon as ready, limits never exceeded, critical path first."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from anyio.lowlevel import checkpoint

from planexec.executor import Limits, RunStatus, TaskStatus

from .support import Gauge, Harness, ToolFn, blocking, make_plan, task

pytestmark = pytest.mark.anyio


def gated(gauge: Gauge, gate: anyio.Event) -> ToolFn:
    """Counts itself in flight, waits for ``gate``, then yields a few times more."""

    async def tool(arguments: dict[str, Any], meta: dict[str, Any]) -> Any:
        gauge.enter()
        try:
            await gate.wait()
            for _ in range(3):
                await checkpoint()
        finally:
            gauge.leave()
        return {}

    return tool


async def test_ready_task_starts_while_an_unrelated_slow_task_is_still_running(harness: Harness) -> None:
    slow_gate, fast_done = anyio.Event(), anyio.Event()

    async def fast_tail(arguments: dict[str, Any], meta: dict[str, Any]) -> Any:
        fast_done.set()
        return {}

    harness.tools.add("slow", blocking(slow_gate))
    harness.tools.add("fast")
    harness.tools.add("tail", fast_tail)
    plan = make_plan(
        {
            "slow": task("slow"),
            "fast": task("fast"),
            "after_fast": task("tail", deps=("fast",)),
            "after_slow": task("fast", deps=("slow",)),
        }
    )
    async with harness.executor().start(plan) as handle:
        await fast_done.wait()  # hangs if the scheduler waited for the whole first level
        await anyio.wait_all_tasks_blocked()
        assert handle.record().tasks["slow"].status is TaskStatus.RUNNING
        assert handle.record().tasks["after_fast"].status is TaskStatus.SUCCEEDED
        slow_gate.set()
        record = await handle.wait()
    assert record.status is RunStatus.SUCCEEDED
    assert harness.tools.task_order() == ["fast", "slow", "after_fast", "after_slow"]


async def test_longest_remaining_path_goes_first_with_ties_by_id(harness: Harness) -> None:
    harness.tools.add("t")
    plan = make_plan(
        {
            "g": task("t"),
            "e": task("t"),
            "d": task("t"),
            "a": task("t"),
            "b": task("t", deps=("a",)),
            "c": task("t", deps=("b",)),
            "f": task("t", deps=("e",)),
        },
        max_concurrency=1,
    )
    record = await harness.executor().run(plan)
    assert record.status is RunStatus.SUCCEEDED
    # ranks: a=3, b=2, e=2, c=d=f=g=1
    assert harness.tools.task_order() == ["a", "b", "e", "c", "d", "f", "g"]


def wide_plan(tool: str, n: int, **fields: Any) -> Any:
    return make_plan({f"t{i:02d}": task(tool) for i in range(n)}, **fields)


async def run_gated(
    harness: Harness, plan: Any, gate: anyio.Event, gauge: Gauge, limits: Limits | None = None
) -> Any:
    async with harness.executor(limits).start(plan) as handle:
        await anyio.wait_all_tasks_blocked()
        in_flight = gauge.active
        gate.set()
        record = await handle.wait()
    assert record.status is RunStatus.SUCCEEDED
    return in_flight


async def test_plan_max_concurrency_is_never_exceeded(harness: Harness) -> None:
    gauge, gate = Gauge(), anyio.Event()
    harness.tools.add("t", gated(gauge, gate))
    in_flight = await run_gated(harness, wide_plan("t", 12, max_concurrency=3), gate, gauge)
    assert in_flight == 3
    assert gauge.peak == 3


async def test_executor_limit_caps_a_plan_that_asks_for_more(harness: Harness) -> None:
    gauge, gate = Gauge(), anyio.Event()
    harness.tools.add("t", gated(gauge, gate))
    plan = wide_plan("t", 12, max_concurrency=10)
    in_flight = await run_gated(harness, plan, gate, gauge, Limits(max_concurrency=4))
    assert (in_flight, gauge.peak) == (4, 4)


async def test_without_limits_every_ready_task_runs_at_once(harness: Harness) -> None:
    gauge, gate = Gauge(), anyio.Event()
    harness.tools.add("t", gated(gauge, gate))
    in_flight = await run_gated(harness, wide_plan("t", 12), gate, gauge)
    assert (in_flight, gauge.peak) == (12, 12)


async def test_tool_max_concurrency_is_never_exceeded_and_other_tools_are_not_held_back(
    harness: Harness,
) -> None:
    narrow, wide, gate = Gauge(), Gauge(), anyio.Event()
    harness.tools.add("narrow", gated(narrow, gate), max_concurrency=2)
    harness.tools.add("wide", gated(wide, gate))
    tasks = {f"n{i}": task("narrow") for i in range(6)} | {f"w{i}": task("wide") for i in range(4)}
    plan = make_plan(tasks, max_concurrency=8)
    async with harness.executor().start(plan) as handle:
        await anyio.wait_all_tasks_blocked()
        assert (narrow.active, wide.active) == (2, 4)
        gate.set()
        record = await handle.wait()
    assert record.status is RunStatus.SUCCEEDED
    assert (narrow.peak, wide.peak) == (2, 4)


async def test_server_limit_counts_every_tool_of_that_source(harness: Harness) -> None:
    server, gate = Gauge(), anyio.Event()
    other = Gauge()
    harness.tools.add("a", gated(server, gate), source="crm")
    harness.tools.add("b", gated(server, gate), source="crm")
    harness.tools.add("c", gated(other, gate), source="mail")
    tasks = (
        {f"a{i}": task("a") for i in range(4)}
        | {f"b{i}": task("b") for i in range(4)}
        | {f"c{i}": task("c") for i in range(3)}
    )
    limits = Limits(per_server={"crm": 3})
    async with harness.executor(limits).start(make_plan(tasks)) as handle:
        await anyio.wait_all_tasks_blocked()
        assert (server.active, other.active) == (3, 3)
        gate.set()
        record = await handle.wait()
    assert record.status is RunStatus.SUCCEEDED
    assert (server.peak, other.peak) == (3, 3)


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Limits(max_concurrency=0)
    with pytest.raises(ValueError):
        Limits(per_server={"crm": 0})
