"""A run through a view with the registry's result cache records, per attempt, whether
the cache answered (``hit``) or stored (``miss``) the result; the field is absent for
uncached calls, and the stored JSON says the same as the record model."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from planexec.executor import Executor, RunStatus
from planexec.registry import (
    Caller,
    Catalog,
    LayeredView,
    MemoryCache,
    PythonToolSource,
    ResultCache,
    ToolAnnotations,
    demo_source,
    tool,
)
from planexec.schemas import PlanObject

from .test_store_sink_json import CapturingSink, assert_record_encoded

pytestmark = pytest.mark.anyio

CALLS: list[int] = []


@tool(annotations=ToolAnnotations(read_only=True), cache_ttl_s=60)
def square(x: int) -> dict[str, Any]:
    """A cached read-only tool."""
    CALLS.append(x)
    return {"square": x * x}


PLAN = PlanObject.model_validate(
    {
        "tasks": {
            "first": {"tool_name": "square", "parameters": {"x": 3}, "dependencies": []},
            "again": {"tool_name": "square", "parameters": {"x": 3}, "dependencies": ["first"]},
            "plain": {"tool_name": "add", "parameters": {"a": 1, "b": 2}, "dependencies": []},
        }
    }
)


async def test_cache_hits_and_misses_are_in_the_run_record() -> None:
    CALLS.clear()
    catalog = Catalog([demo_source(), PythonToolSource("math", [square])])
    view = LayeredView(catalog, Caller("acme", "alice"), cache=ResultCache(MemoryCache()))
    sink = CapturingSink()
    record = await Executor(view, sink).run(PLAN)

    assert record.status is RunStatus.SUCCEEDED and CALLS == [3]
    data = record.model_dump(mode="json")
    assert data["tasks"]["first"]["attempts"][0]["cache"] == "miss"
    assert data["tasks"]["again"]["attempts"][0]["cache"] == "hit"
    assert data["tasks"]["again"]["output"] == {"square": 9}
    assert "cache" not in data["tasks"]["plain"]["attempts"][0]
    for saved in sink.records:
        assert_record_encoded(saved)


GATED_CALLS: list[int] = []
GATE: list[anyio.Event] = []


@tool(annotations=ToolAnnotations(read_only=True), cache_ttl_s=60)
async def gated_square(x: int) -> dict[str, Any]:
    """A cached read-only tool that answers once the test opens the gate."""
    GATED_CALLS.append(x)
    await GATE[0].wait()
    return {"square": x * x}


async def test_parallel_tasks_with_identical_cached_calls_make_one_call() -> None:
    GATED_CALLS.clear()
    GATE[:] = [anyio.Event()]
    call = {"tool_name": "gated_square", "parameters": {"x": 4}, "dependencies": []}
    tasks = {f"t{n}": call for n in range(4)}
    tasks["other"] = {**call, "parameters": {"x": 5}}
    plan = PlanObject.model_validate({"tasks": tasks})
    catalog = Catalog([PythonToolSource("math", [gated_square])])
    view = LayeredView(catalog, Caller("acme", "alice"), cache=ResultCache(MemoryCache()))
    async with Executor(view).start(plan) as handle:
        await anyio.wait_all_tasks_blocked()  # every task is under way: their calls overlap
        assert sorted(GATED_CALLS) == [4, 5]  # the four asking for 4 at once share one call
        GATE[0].set()
        record = await handle.wait()

    assert record.status is RunStatus.SUCCEEDED and sorted(GATED_CALLS) == [4, 5]
    outcomes = sorted(record.tasks[f"t{n}"].attempts[0].cache or "" for n in range(4))
    assert outcomes == ["hit", "hit", "hit", "miss"]
    assert {tid: task.output for tid, task in record.tasks.items()} == {
        **{f"t{n}": {"square": 16} for n in range(4)},
        "other": {"square": 25},
    }
