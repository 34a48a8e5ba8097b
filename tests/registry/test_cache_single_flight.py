"""The result cache's identical calls at the same time (registry/_cache.py): the first
of several identical misses makes the call and the others share its result as a hit;
different tenants or arguments never share; a leader that raises, errs or is cancelled
hands nothing over."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import pytest

from planexec.registry import MemoryCache, ResultCache, ToolCallError, ToolErrorCode, ToolResult

from .test_cache import HIT, MISS, CountingTool

pytestmark = pytest.mark.anyio


class GatedTool(CountingTool):
    """A CountingTool whose calls wait for ``gate`` (every call that started is counted in
    ``started`` first), and give ``outcomes`` in turn when there are any: a ToolResult, or an
    exception to raise."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = anyio.Event()
        self.started = 0
        self.outcomes: list[ToolResult | BaseException] = []

    def call(self, tenant: str, arguments: Mapping[str, Any]) -> Callable[[], Awaitable[ToolResult]]:
        answer = super().call(tenant, arguments)

        async def gated() -> ToolResult:
            self.started += 1
            await self.gate.wait()
            if self.outcomes:
                outcome = self.outcomes.pop(0)
                if isinstance(outcome, BaseException):
                    raise outcome
                self.calls.append((tenant, dict(arguments)))
                return outcome
            return await answer()

        return gated


async def _together(
    tool: GatedTool, cache: ResultCache, calls: list[tuple[str, dict[str, Any]]]
) -> list[Any]:
    """Start every call, open the gate once all are under way, return what each got (a
    result or the exception it raised), in call order."""
    got: list[Any] = [None] * len(calls)

    async def one(i: int, tenant: str, arguments: dict[str, Any]) -> None:
        try:
            got[i] = await tool.through(cache, tenant, arguments)
        except Exception as error:
            got[i] = error

    async with anyio.create_task_group() as group:
        for i, (tenant, arguments) in enumerate(calls):
            group.start_soon(one, i, tenant, arguments)
        await anyio.wait_all_tasks_blocked()
        tool.gate.set()
    return got


async def test_identical_calls_that_miss_together_make_one_call_and_share_it() -> None:
    tool, cache = GatedTool(), ResultCache(MemoryCache())
    got = await _together(tool, cache, [("acme", {"q": 1})] * 5)
    assert (tool.started, len(tool.calls)) == (1, 1)
    assert [result.meta for result in got] == [MISS, HIT, HIT, HIT, HIT]
    assert {result.structured_content["serial"] for result in got} == {1}
    got[1].structured_content["serial"] = 99  # each caller has its own copy
    assert got[2].structured_content["serial"] == 1


async def test_calls_that_differ_in_tenant_or_arguments_are_not_shared() -> None:
    tool, cache = GatedTool(), ResultCache(MemoryCache())
    calls = [("acme", {"q": 1}), ("globex", {"q": 1}), ("acme", {"q": 2}), ("acme", {"q": 1})]
    got = await _together(tool, cache, calls)
    assert tool.started == 3
    assert [result.meta for result in got] == [MISS, MISS, MISS, HIT]
    assert [result.structured_content["tenant"] for result in got] == ["acme", "globex", "acme", "acme"]


async def test_a_leader_whose_call_raises_hands_nothing_over() -> None:
    tool, cache = GatedTool(), ResultCache(MemoryCache())
    refused = ToolCallError(ToolErrorCode.TRANSPORT_ERROR, "gone", retryable=True)
    tool.outcomes = [refused]
    got = await _together(tool, cache, [("acme", {"q": 1})] * 3)
    assert got[0] is refused  # the leader's own failure is its own
    # The others went on by themselves: one of them led the next call, the last shared it.
    assert (tool.started, [r.meta for r in got[1:]]) == (2, [MISS, HIT])


async def test_a_leader_whose_result_is_an_error_makes_the_others_call_themselves() -> None:
    tool, cache = GatedTool(), ResultCache(MemoryCache())
    tool.outcomes = [ToolResult(content=[{"type": "text", "text": "no"}], is_error=True)]
    got = await _together(tool, cache, [("acme", {"q": 1})] * 3)
    assert got[0].is_error and got[0].meta is None
    assert (tool.started, [r.meta for r in got[1:]]) == (2, [MISS, HIT])


async def test_a_cancelled_leader_leaves_the_others_to_call() -> None:
    tool, cache = GatedTool(), ResultCache(MemoryCache())
    got: list[ToolResult] = []

    async def follower() -> None:
        got.append(await tool.through(cache, "acme", {"q": 1}))

    async with anyio.create_task_group() as group:
        with anyio.CancelScope() as leader:
            async with anyio.create_task_group() as leading:
                leading.start_soon(tool.through, cache, "acme", {"q": 1})
                await anyio.wait_all_tasks_blocked()
                group.start_soon(follower)
                await anyio.wait_all_tasks_blocked()
                assert (tool.started, got) == (1, [])  # the follower waits on the leader
                leader.cancel()
        await anyio.wait_all_tasks_blocked()
        assert tool.started == 2  # the follower leads a call of its own
        tool.gate.set()
    assert (len(tool.calls), [r.meta for r in got]) == (1, [MISS])
