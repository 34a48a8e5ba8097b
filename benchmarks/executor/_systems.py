"""The tools and the comparison systems: gather floor, level-by-level, a minimal
ready-queue scheduler, LangGraph.

Every system calls the same two coroutine functions, :func:`noop` and :func:`work`,
directly; planexec calls them through its registry (``Catalog`` over a
``PythonToolSource``), so its numbers include its tool-call path. Each runner returns
per-node (start, finish) ``perf_counter`` spans when asked, for schedule checks.
"""

from __future__ import annotations

import asyncio
import heapq
import operator
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, TypedDict

import anyio

from ._dag import Dag

Spans = list[tuple[float, float]]
NodeCall = Callable[[int], Awaitable[None]]


async def noop() -> None:
    """Do nothing (the per-task overhead probe)."""


async def work(ms: float) -> None:
    """Sleep ``ms`` milliseconds (a tool with latency)."""
    await anyio.sleep(ms / 1000)


def noop_call(_: int) -> Awaitable[None]:
    return noop()


def work_call(latency_ms: Sequence[float], spans: Spans | None = None) -> NodeCall:
    """A node call that sleeps the node's latency, recording its span when ``spans`` is given."""
    if spans is None:

        def call(i: int) -> Awaitable[None]:
            return work(latency_ms[i])

        return call

    async def timed(i: int) -> None:
        start = time.perf_counter()
        await work(latency_ms[i])
        spans[i] = (start, time.perf_counter())

    return timed


# -- the floor -------------------------------------------------------------------------


async def run_gather_floor(n: int) -> None:
    """All no-ops at once with ``asyncio.gather``, dependencies ignored: the floor."""
    await asyncio.gather(*(noop() for _ in range(n)))


# -- level by level --------------------------------------------------------------------


async def run_level_by_level(dag: Dag, call: NodeCall, k: int | None = None) -> None:
    """Run topological generations one after the other, each with ``asyncio.gather``.

    With ``k``, a semaphore inside each level admits k calls at a time (in node order).
    """
    if k is None:
        for level in dag.levels:
            await asyncio.gather(*(call(i) for i in level))
        return
    limit = asyncio.Semaphore(k)

    async def limited(i: int) -> None:
        async with limit:
            await call(i)

    for level in dag.levels:
        await asyncio.gather(*(limited(i) for i in level))


# -- minimal as-soon-as-ready scheduler (reference) ------------------------------------


async def run_ready_queue(dag: Dag, call: NodeCall, k: int | None = None) -> None:
    """A featureless scheduler following DESIGN §5: start tasks the moment they are ready.

    Completion callbacks release children; with ``k``, a heap orders ready tasks by
    remaining hops, then id. No retries, timeouts, references or records: this is what
    the scheduling alone costs on asyncio, a reference point, not a competitor.
    """
    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    waiting = [len(p) for p in dag.deps]
    hops = dag.remaining_hops
    ready: list[tuple[int, int]] = []
    state = {"running": 0, "done": 0}
    tasks: set[asyncio.Task[None]] = set()
    limit = k if k is not None else len(dag)

    def launch() -> None:
        while ready and state["running"] < limit:
            _, i = heapq.heappop(ready)
            state["running"] += 1
            task = loop.create_task(call(i))
            tasks.add(task)
            task.add_done_callback(lambda t, i=i: on_done(t, i))

    def on_done(task: asyncio.Task[None], i: int) -> None:
        tasks.discard(task)
        error = asyncio.CancelledError() if task.cancelled() else task.exception()
        if error is not None:
            if not finished.done():
                finished.set_exception(error)
            return
        state["running"] -= 1
        state["done"] += 1
        for c in dag.children[i]:
            waiting[c] -= 1
            if waiting[c] == 0:
                heapq.heappush(ready, (-hops[c], c))
        if state["done"] == len(dag):
            finished.set_result(None)
        else:
            launch()

    for i, parents in enumerate(dag.deps):
        if not parents:
            heapq.heappush(ready, (-hops[i], i))
    launch()
    await finished


# -- LangGraph -------------------------------------------------------------------------


class _Count(TypedDict):
    done: Annotated[int, operator.add]


def build_langgraph(dag: Dag, call: NodeCall) -> Any:
    """One StateGraph node per task; a node with several dependencies joins on all of them.

    The state is a single counter with an ``operator.add`` reducer, so concurrent writes
    in one superstep merge (fan-in) and the final count proves every node ran once.
    """
    from langgraph.graph import START, StateGraph

    builder = StateGraph(_Count)
    ids = dag.ids
    for i in range(len(dag)):
        builder.add_node(ids[i], _langgraph_node(call, i))
    for i, parents in enumerate(dag.deps):
        if not parents:
            builder.add_edge(START, ids[i])
        elif len(parents) == 1:
            builder.add_edge(ids[parents[0]], ids[i])
        else:
            builder.add_edge([ids[p] for p in parents], ids[i])
    return builder.compile()


def _langgraph_node(call: NodeCall, i: int) -> Callable[[_Count], Awaitable[dict[str, int]]]:
    async def node(state: _Count) -> dict[str, int]:
        await call(i)
        return {"done": 1}

    return node


async def run_langgraph(graph: Any, dag: Dag) -> None:
    # Supersteps = levels; the default recursion limit (25) would stop a deep DAG.
    out = await graph.ainvoke({"done": 0}, {"recursion_limit": len(dag.levels) + 10})
    if out["done"] != len(dag):
        raise RuntimeError(f"LangGraph ran {out['done']} of {len(dag)} nodes")
