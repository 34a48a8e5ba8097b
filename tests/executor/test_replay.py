"""Replay of stored runs (DESIGN §5): recorded replays are identical, divergences are found."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest

from planexec.executor import Executor, ReplayError, StoreSink, replay_run
from planexec.registry import Catalog, ToolResult, ToolSpec, demo_source
from planexec.schemas import PlanObject
from planexec.store import NotFound, PlanEntry, Store

from .replay_corpus import CORPUS, TENANT, USER, Scenario, record_run
from .support import ScriptedTools, make_plan, task

pytestmark = pytest.mark.anyio


class NoCalls:
    """A tool view with the corpus tools' specs that fails the test if a tool is called."""

    def __init__(self, tools: Any) -> None:
        self._tools = tools

    def get(self, name: str) -> ToolSpec | None:
        spec: ToolSpec | None = self._tools.get(name)
        return spec

    def is_permitted(self, name: str) -> bool:
        return True

    def specs(self) -> list[ToolSpec]:
        specs: list[ToolSpec] = self._tools.specs()
        return specs

    async def call(self, name: str, arguments: Mapping[str, Any], meta: Mapping[str, Any]) -> ToolResult:
        pytest.fail(f"a recorded replay called {name}")


@pytest.mark.parametrize("name", list(CORPUS))
async def test_every_corpus_run_replays_identically(store: Store, name: str) -> None:
    scenario = CORPUS[name]()
    record = await record_run(store, scenario)
    result = await replay_run(store, TENANT, record.run_id, tools=NoCalls(scenario.tools))
    assert result.divergence is None
    assert result.identical
    assert (result.status, result.output) == (record.status.value, record.model_dump(mode="json")["output"])
    assert result.replay_of == record.run_id and result.run_id != record.run_id


# -- edited records are reported as the first divergence ------------------------------------


def chain() -> Scenario:
    tools = ScriptedTools()
    tools.add("t")
    plan = make_plan(
        {
            "a": task("t", {"x": "$<inputs.x>"}),
            "b": task("t", {"y": "$<a.output.x>", "label": "x=$<a.output.x>"}, deps=("a",)),
            "c": task("t", {"z": "$<b.output.y>"}, deps=("b",)),
        },
        inputs={"x": 1},
    )
    return Scenario(plan, tools, "succeeded")


async def edit(store: Store, run_id: str, change: Callable[[dict[str, Any]], None]) -> None:
    record = await store.get_run(TENANT, run_id)
    change(record)
    await store.save_run(TENANT, record)


async def test_an_edited_output_is_the_first_divergence_where_the_replay_uses_it(sqlite_store: Store) -> None:
    record = await record_run(sqlite_store, chain())

    def change(stored: dict[str, Any]) -> None:
        stored["tasks"]["a"]["output"] = {"x": 99}
        stored["tasks"]["a"]["attempts"][0]["output"] = {"x": 99}

    await edit(sqlite_store, record.run_id, change)
    result = await replay_run(sqlite_store, TENANT, record.run_id)
    assert not result.identical
    assert result.divergence == {
        "task_id": "b",
        "field": "arguments",
        "attempt": 1,
        "recorded": {"y": 1, "label": "x=1"},
        "replayed": {"y": 99, "label": "x=99"},
    }
    assert result.as_json()["divergence"] == result.divergence


async def test_an_edited_task_output_alone_is_the_divergence_of_that_task(sqlite_store: Store) -> None:
    record = await record_run(sqlite_store, chain())
    await edit(sqlite_store, record.run_id, lambda stored: stored["tasks"]["b"].update(output="edited"))
    result = await replay_run(sqlite_store, TENANT, record.run_id)
    assert result.divergence == {
        "task_id": "b",
        "field": "output",
        "attempt": None,
        "recorded": "edited",
        "replayed": {"y": 1, "label": "x=1"},
    }


async def test_an_edited_argument_is_the_first_divergence(sqlite_store: Store) -> None:
    record = await record_run(sqlite_store, chain())
    await edit(
        sqlite_store, record.run_id, lambda stored: stored["tasks"]["c"]["attempts"][0].update(arguments={})
    )
    result = await replay_run(sqlite_store, TENANT, record.run_id)
    assert result.divergence == {
        "task_id": "c",
        "field": "arguments",
        "attempt": 1,
        "recorded": {},
        "replayed": {"z": 1},
    }
    assert result.status == "succeeded"


async def test_a_call_the_record_does_not_have_is_a_call_divergence(sqlite_store: Store) -> None:
    record = await record_run(sqlite_store, CORPUS["retries"]())

    def forget_the_last_attempt(stored: dict[str, Any]) -> None:
        stored["tasks"]["f"]["attempts"].pop()

    await edit(sqlite_store, record.run_id, forget_the_last_attempt)
    result = await replay_run(sqlite_store, TENANT, record.run_id)
    assert result.divergence is not None
    assert (result.divergence["task_id"], result.divergence["field"]) == ("f", "call")
    assert result.divergence["attempt"] == 3
    assert result.divergence["recorded"] is None
    assert result.divergence["replayed"] == {"arguments": {"v": 1}}


async def test_a_halted_run_whose_replay_goes_another_way_ends_without_hanging(sqlite_store: Store) -> None:
    record = await record_run(sqlite_store, CORPUS["abort_cancels_running_task"]())

    def boom_succeeds(stored: dict[str, Any]) -> None:  # then nothing ever cancels "running"
        attempt = stored["tasks"]["boom"]["attempts"][0]
        del attempt["error"]
        attempt["output"] = {"fine": True}

    await edit(sqlite_store, record.run_id, boom_succeeds)
    with anyio.fail_after(5):
        result = await replay_run(sqlite_store, TENANT, record.run_id)
    assert result.divergence is not None
    assert (result.divergence["task_id"], result.divergence["field"]) == ("boom", "status")
    assert (result.divergence["recorded"], result.divergence["replayed"]) == ("failed", "succeeded")
    assert result.status == "cancelled"  # the replay cancelled itself: nothing else would end it


# -- recorded replay calls nothing ------------------------------------------------------------


async def test_a_recorded_replay_calls_no_tool(sqlite_store: Store) -> None:
    scenario = CORPUS["failing_compensation"]()
    record = await record_run(sqlite_store, scenario)
    calls = len(scenario.tools.calls)
    for tools in (NoCalls(scenario.tools), None):
        result = await replay_run(sqlite_store, TENANT, record.run_id, tools=tools)
        assert result.identical
    assert len(scenario.tools.calls) == calls
    assert [summary.run_id for summary in await sqlite_store.list_runs(TENANT)] == [record.run_id]


# -- live replay from a task --------------------------------------------------------------------


def diamond(fixed: bool) -> Scenario:
    """``b`` gave a wrong answer in the recorded run; it is fixed for the live replay."""
    tools = ScriptedTools()
    tools.add("t")

    async def compute(arguments: dict[str, Any], meta: dict[str, Any]) -> Any:
        return {"n": arguments["n"] * (2 if fixed else 3)}

    tools.add("compute", compute)
    plan = make_plan(
        {
            "a": task("t", {"n": 5}),
            "side": task("t", {"s": 1}),
            "b": task("compute", {"n": "$<a.output.n>"}, deps=("a",)),
            "c": task("t", {"n": "$<b.output.n>", "s": "$<side.output.s>"}, deps=("b", "side")),
        }
    )
    return Scenario(plan, tools, "succeeded")


async def test_live_replay_from_a_task_reuses_upstream_outputs_and_stores_a_new_run(store: Store) -> None:
    record = await record_run(store, diamond(fixed=False))
    live = diamond(fixed=True).tools
    result = await replay_run(store, TENANT, record.run_id, tools=live, live=True, from_task="b", user=USER)

    assert sorted(call.meta["planexec/task_id"] for call in live.calls) == ["b", "c"]
    assert result.divergence == {
        "task_id": "b",
        "field": "output",
        "attempt": 1,
        "recorded": {"n": 15},
        "replayed": {"n": 10},
    }
    assert result.output == {"c": {"n": 10, "s": 1}}
    assert result.replay_of == record.run_id and result.run_id != record.run_id
    stored = await store.get_run(TENANT, result.run_id)
    assert stored["replay_of"] == record.run_id
    assert stored["replay"] == {"mode": "live", "from_task": "b"}
    assert stored["tasks"]["a"]["output"] == {"n": 5}  # reused
    assert {summary.run_id for summary in await store.list_runs(TENANT)} == {record.run_id, result.run_id}
    assert (await store.list_events(TENANT, result.run_id))[-1]["type"] == "run_succeeded"


async def test_live_replay_with_the_same_tools_is_identical(sqlite_store: Store) -> None:
    record = await record_run(sqlite_store, diamond(fixed=False))
    live = diamond(fixed=False).tools
    result = await replay_run(sqlite_store, TENANT, record.run_id, tools=live, live=True, from_task="a")
    assert result.identical
    assert len(live.calls) == 3  # a, b, c; "side" came from the record


# -- what cannot be replayed ---------------------------------------------------------------------


async def test_replaying_an_unknown_run_is_not_found(sqlite_store: Store) -> None:
    with pytest.raises(NotFound):
        await replay_run(sqlite_store, TENANT, "no-such-run")


async def test_replaying_a_run_whose_plan_was_not_stored_is_a_replay_error(sqlite_store: Store) -> None:
    tools = ScriptedTools()
    tools.add("t")
    record = await Executor(tools, StoreSink(sqlite_store, TENANT)).run(make_plan({"a": task("t")}))
    with pytest.raises(ReplayError, match="not stored"):
        await replay_run(sqlite_store, TENANT, record.run_id)


async def test_a_stored_plan_that_is_no_longer_valid_or_a_mangled_record_is_a_replay_error(
    sqlite_store: Store,
) -> None:
    record = await record_run(sqlite_store, chain())
    await edit(sqlite_store, record.run_id, lambda run: run["tasks"]["a"]["attempts"][0].update(error=1))
    with pytest.raises(ReplayError, match="malformed"):
        await replay_run(sqlite_store, TENANT, record.run_id)
    entry = await sqlite_store.get_plan(TENANT, record.plan_id)
    await sqlite_store.save_plan(TENANT, entry.model_copy(update={"plan": {**entry.plan, "tasks": {}}}))
    with pytest.raises(ReplayError, match="not a valid plan"):
        await replay_run(sqlite_store, TENANT, record.run_id)


async def test_replaying_a_run_that_has_not_finished_is_a_replay_error(sqlite_store: Store) -> None:
    record = await record_run(sqlite_store, chain())
    await edit(sqlite_store, record.run_id, lambda stored: stored.update(status="running"))
    with pytest.raises(ReplayError):
        await replay_run(sqlite_store, TENANT, record.run_id)


async def test_a_run_without_stored_inputs_is_a_replay_error(sqlite_store: Store) -> None:
    scenario = chain()
    record = await record_run(sqlite_store, scenario)
    await sqlite_store.save_run(TENANT, {**record.model_dump(mode="json"), "run_id": "copy"})
    with pytest.raises(ReplayError):
        await replay_run(sqlite_store, TENANT, "copy")  # it has no events at all


@pytest.mark.parametrize(
    "options",
    [
        {"live": True, "from_task": "b"},  # no tools
        {"live": True, "from_task": "nope", "tools": ScriptedTools()},
        {"live": True, "tools": ScriptedTools()},
        {"from_task": "b"},
    ],
)
async def test_bad_replay_options_are_replay_errors(sqlite_store: Store, options: dict[str, Any]) -> None:
    record = await record_run(sqlite_store, chain())
    with pytest.raises(ReplayError):
        await replay_run(sqlite_store, TENANT, record.run_id, **options)


# -- real runs on the demo tools, with real timing -----------------------------------------------


def random_dag_plan(rng: random.Random, tasks: int) -> dict[str, Any]:
    """Task i sleeps briefly and depends on up to 3 of the 30 tasks before it."""
    ids = [f"t{i:03d}" for i in range(tasks)]
    document: dict[str, Any] = {"tasks": {}}
    for i, task_id in enumerate(ids):
        window = ids[max(0, i - 30) : i]
        deps = rng.sample(window, min(len(window), rng.randint(1, 3))) if i and rng.random() > 0.05 else []
        seconds = rng.choice([0, 0, 0.001, 0.002])
        document["tasks"][task_id] = task("sleep", {"seconds": seconds, "value": i}, deps=tuple(deps))
        if i % 5 == 0:
            document["tasks"][task_id]["compensation"] = {"tool_name": "echo", "parameters": {"value": i}}
    return document


@pytest.mark.parametrize("seed", range(4))
async def test_random_halted_runs_of_demo_tools_replay_identically(sqlite_store: Store, seed: int) -> None:
    """Many calls in flight when a failure or the deadline halts the run: the replay must
    stop at the same point (which tasks ran, were cut short, never started)."""
    rng = random.Random(seed)
    document = random_dag_plan(rng, 150)
    document["max_concurrency"] = rng.choice([4, 16, 1000])
    failing = document["tasks"][f"t{rng.randrange(30, 120):03d}"]
    failing.update(tool_name="fail", parameters={"message": "halt"})
    if seed == 3:
        document["timeout_s"] = 0.03
    plan = PlanObject.model_validate(document)
    entry = PlanEntry(plan_id=plan.plan_id, created_at=datetime.now(UTC), plan=plan.to_json())
    await sqlite_store.save_plan(TENANT, entry)
    record = await Executor(Catalog([demo_source()]), StoreSink(sqlite_store, TENANT)).run(plan)
    assert record.status == "failed"
    with anyio.fail_after(10):
        result = await replay_run(sqlite_store, TENANT, record.run_id)
    assert result.divergence is None
