"""A corpus of runs that exercises every feature of the executor, for replay tests.

Each entry builds a fresh :class:`Scenario`: scripted tools, a plan, the caller's inputs,
and optionally a ``drive`` coroutine that steers the run from outside (cancels it, opens
gates). :func:`record_run` stores the plan and runs it through a :class:`StoreSink`.
Nothing here orders events with sleeps: tools wait on ``anyio.Event``s; only the
timeout and deadline entries let a (tiny) real timeout expire, as those features must.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio

from planexec.executor import Executor, RunHandle, RunRecord, Sleep, StoreSink
from planexec.registry import Catalog, ToolCallError, ToolErrorCode, ToolResult, demo_source
from planexec.schemas import PlanObject
from planexec.store import PlanEntry, Store

from .support import FakeClock, RecordingSleep, ScriptedTools, blocking, failing, make_plan, no_jitter, task

TENANT = "acme"
USER = "alice"


@dataclass
class Scenario:
    plan: PlanObject
    tools: Any  # a ToolView: ScriptedTools, or a Catalog for the demo entry
    expect: str
    inputs: dict[str, Any] | None = None
    drive: Callable[[RunHandle], Awaitable[None]] | None = None
    sleep: Sleep = field(default_factory=RecordingSleep)


async def record_run(store: Store, scenario: Scenario) -> RunRecord:
    """Store the plan, then run it with the store as sink (as ``planexec run`` does)."""
    plan = scenario.plan
    entry = PlanEntry(plan_id=plan.plan_id, user=USER, created_at=datetime.now(UTC), plan=plan.to_json())
    await store.save_plan(TENANT, entry)
    sink = StoreSink(store, TENANT, USER)
    executor = Executor(scenario.tools, sink, clock=FakeClock(), sleep=scenario.sleep)
    async with executor.start(plan, scenario.inputs) as handle:
        if scenario.drive is not None:
            await scenario.drive(handle)
        record = await handle.wait()
    assert record.status == scenario.expect, record.model_dump(mode="json")
    return record


def _undo(key: str) -> dict[str, Any]:
    return {"tool_name": "undo", "parameters": {"key": key}}


def gated_failure(gate: anyio.Event) -> Any:
    async def tool(arguments: dict[str, Any], meta: dict[str, Any]) -> Any:
        await gate.wait()
        return ToolResult(structured_content={"message": "late failure"}, is_error=True)

    return tool


def once(code: ToolErrorCode) -> Any:
    """Raises ``code`` (retryable) on the first call of each task, then echoes."""
    seen: set[str] = set()

    async def tool(arguments: dict[str, Any], meta: dict[str, Any]) -> Any:
        if meta["planexec/task_id"] not in seen:
            seen.add(meta["planexec/task_id"])
            raise ToolCallError(code, f"{code} once", retryable=True, detail={"try": 1})
        return dict(arguments)

    return tool


def hang_first() -> Any:
    """Hangs on attempt 1 (to time out), answers on later attempts."""

    async def tool(arguments: dict[str, Any], meta: dict[str, Any]) -> Any:
        if meta["planexec/attempt"] == 1:
            await anyio.sleep_forever()
        return {"attempt": meta["planexec/attempt"]}

    return tool


async def hang(arguments: dict[str, Any], meta: dict[str, Any]) -> Any:
    await anyio.sleep_forever()


async def buggy(arguments: dict[str, Any], meta: dict[str, Any]) -> Any:
    raise RuntimeError("the source itself broke")


def returning(result: ToolResult) -> Any:
    async def tool(arguments: dict[str, Any], meta: dict[str, Any]) -> Any:
        return result

    return tool


def success() -> Scenario:
    tools = ScriptedTools()
    tools.add("t")
    plan = make_plan(
        {
            "a": task("t", {"q": "$<inputs.q>", "n": 2, "r": "$<inputs.r>"}),
            "b": task("t", {"label": "q=$<inputs.q> n=$<a.output.n>", "whole": "$<a.output>"}, deps=("a",)),
            "c": task("t", {"list": ["$<a.output.n>", "$$<literal>", 1.5]}, deps=("a",)),
            "d": task("t", {"both": ["$<b.output.label>", "$<c.output.list[0]>"]}, deps=("b", "c")),
        },
        inputs={"q": "default", "r": [1, {"x": None}]},
        output={"label": "$<b.output.label>", "d": "$<d.output>"},
    )
    return Scenario(plan, tools, "succeeded", inputs={"q": "given"})


def retries() -> Scenario:
    tools = ScriptedTools()
    tools.add("flaky", failing("try again", retryable=True, times=2))
    tools.add("t")
    plan = make_plan(
        {
            "f": task("flaky", {"v": 1}, retry=no_jitter(max_attempts=3, initial_delay_s=0.5)),
            "j": task("flaky", {"v": 2}),  # default policy: jittered waits
            "after": task("t", {"f": "$<f.output.v>", "j": "$<j.output>"}, deps=("f", "j")),
        }
    )
    return Scenario(plan, tools, "succeeded")


def retries_exhausted() -> Scenario:
    tools = ScriptedTools()
    tools.add("flaky", failing("always", retryable=True))
    tools.add("t")
    tools.add("undo")
    plan = make_plan(
        {
            "w": task("t", {"key": "w"}, compensation=_undo("$<w.output.key>")),
            "f": task("flaky", retry=no_jitter(max_attempts=3), deps=("w",)),
            "never": task("t", deps=("f",)),
        }
    )
    return Scenario(plan, tools, "failed")


def transport_and_timeout_retries() -> Scenario:
    tools = ScriptedTools()
    tools.add("net", once(ToolErrorCode.TRANSPORT_ERROR))
    tools.add("upstream", once(ToolErrorCode.TIMEOUT))
    tools.add("slow", hang_first(), idempotent=True)
    tools.add("t")
    plan = make_plan(
        {
            "n": task("net", {"x": 1}),
            "u": task("upstream", {"x": 2}),
            "s": task("slow", timeout_s=0.01, retry=no_jitter(max_attempts=2, initial_delay_s=0)),
            "all": task(
                "t", {"n": "$<n.output>", "u": "$<u.output>", "s": "$<s.output>"}, deps=("n", "u", "s")
            ),
        }
    )
    return Scenario(plan, tools, "succeeded")


def timeouts_not_retried() -> Scenario:
    tools = ScriptedTools()
    tools.add("write_once", hang, idempotent=False)
    tools.add("read", hang, idempotent=True)
    retry = no_jitter(max_attempts=2, initial_delay_s=0)
    plan = make_plan(
        {
            "w": task("write_once", timeout_s=0.01, retry=retry),
            "opt_in": task("write_once", timeout_s=0.01, retry=retry, retry_after_timeout=True),
            "r": task("read", timeout_s=0.01, retry=retry),
        },
        on_failure="continue",
    )
    return Scenario(plan, tools, "failed")


def handler_recovers() -> Scenario:
    tools = ScriptedTools()
    tools.add("fetch", failing("upstream down"))
    tools.add("cache")
    tools.add("echo")
    plan = make_plan(
        {
            "fetch": task(
                "fetch", {"q": 1}, retry={"max_attempts": 1}, error_handling={"on_error": "from_cache"}
            ),
            "from_cache": task("cache", {"why": "$<fetch.error>", "code": "$<fetch.error.code>"}),
            "summary": task("echo", {"rows": "$<fetch.output.code>"}, deps=("fetch",)),
        }
    )
    return Scenario(plan, tools, "succeeded")


def handler_fails() -> Scenario:
    tools = ScriptedTools()
    tools.add("fetch", failing("upstream down"))
    tools.add("cache", failing("cache cold"))
    tools.add("t")
    tools.add("undo")
    plan = make_plan(
        {
            "first": task("t", {"key": "k"}, compensation=_undo("$<first.output.key>")),
            "fetch": task("fetch", deps=("first",), error_handling={"on_error": "from_cache"}),
            "from_cache": task("cache", {"why": "$<fetch.error.message>"}),
            "summary": task("t", {"rows": "$<fetch.output>"}, deps=("fetch",)),
        }
    )
    return Scenario(plan, tools, "failed")


def compensation_in_reverse_order() -> Scenario:
    tools = ScriptedTools()
    tools.add("t")
    tools.add("undo")
    tools.add("boom", failing("no"))
    plan = make_plan(
        {
            "w1": task("t", {"key": "one"}, compensation=_undo("$<w1.output.key>")),
            "w2": task("t", {"key": "two", "prv": "$<w1.output.key>"}, deps=("w1",), compensation=_undo("2")),
            "w3": task("t", {"key": "three"}, deps=("w1",)),  # no compensation
            "boom": task("boom", {"after": "$<w2.output.key>"}, deps=("w2", "w3")),
        }
    )
    return Scenario(plan, tools, "failed")


def failing_compensation() -> Scenario:
    tools = ScriptedTools()
    tools.add("t")
    tools.add("undo_flaky", failing("undo later", retryable=True, times=1))
    tools.add("undo_broken", failing("cannot undo"))
    tools.add("boom", failing("no"))
    retry = no_jitter(max_attempts=2)
    undo_flaky = {"tool_name": "undo_flaky", "parameters": {}}
    bad_reference_undo = {"tool_name": "undo_broken", "parameters": {"k": "$<c.output.nope>"}}
    plan = make_plan(
        {
            "a": task("t", {"k": "a"}, retry=retry, compensation=undo_flaky),
            "b": task("t", {"k": "b"}, compensation={"tool_name": "undo_broken", "parameters": {"k": "b"}}),
            "c": task("t", {"k": "c"}, compensation=bad_reference_undo),
            "boom": task("boom", deps=("a", "b", "c")),
        }
    )
    return Scenario(plan, tools, "failed")


def continue_skips() -> Scenario:
    tools = ScriptedTools()
    tools.add("t")
    tools.add("boom", failing())
    plan = make_plan(
        {
            "bad": task("boom", compensation={"tool_name": "t", "parameters": {}}),
            "child": task("t", deps=("bad",)),
            "grandchild": task("t", deps=("child",)),
            "good": task("t", {"g": 1}),
            "after_good": task("t", {"g": "$<good.output.g>"}, deps=("good",)),
        },
        on_failure="continue",
    )
    return Scenario(plan, tools, "failed")


def bad_reference() -> Scenario:
    tools = ScriptedTools()
    tools.add("t")
    tools.add("undo")
    plan = make_plan(
        {
            "a": task("t", {"rows": [1]}, compensation=_undo("a")),
            "b": task("t", {"x": "$<a.output.rows[5]>"}, deps=("a",)),
            "c": task("t", deps=("b",)),
        }
    )
    return Scenario(plan, tools, "failed")


def bad_reference_continue() -> Scenario:
    scenario = bad_reference()
    plan = PlanObject.model_validate({**scenario.plan.to_json(), "on_failure": "continue"})
    return Scenario(plan, scenario.tools, "failed")


def deadline() -> Scenario:
    tools = ScriptedTools()
    tools.add("t")
    tools.add("undo")
    tools.add("slow", blocking(anyio.Event()))  # never released: only the deadline ends it
    plan = make_plan(
        {
            "write": task("t", {"key": "w"}, compensation=_undo("w")),
            "block": task("slow", deps=("write",)),
            "after": task("t", deps=("block",)),
            "side": task("t", deps=("write",)),
        },
        timeout_s=0.05,
    )
    return Scenario(plan, tools, "failed")


def cancelled() -> Scenario:
    started = anyio.Event()
    tools = ScriptedTools()
    tools.add("t")
    tools.add("undo")
    tools.add("slow", blocking(anyio.Event(), started))
    plan = make_plan(
        {
            "write": task("t", {"key": "w"}, compensation=_undo("$<write.output.key>")),
            "block": task("slow", deps=("write",)),
            "after": task("t", deps=("block",)),
            "side": task("t", {"s": 1}, deps=("write",)),
        }
    )

    async def drive(handle: RunHandle) -> None:
        await started.wait()
        handle.cancel()

    return Scenario(plan, tools, "cancelled", drive=drive)


def abort_cancels_running_task() -> Scenario:
    tools = ScriptedTools()
    tools.add("t")
    tools.add("undo")
    tools.add("slow", blocking(anyio.Event()))
    tools.add("boom", failing("now"))
    plan = make_plan(
        {
            "done": task("t", {"k": 1}, compensation=_undo("done")),
            "running": task("slow", compensation=_undo("running")),
            "boom": task("boom", deps=("done",)),
            "skipped": task("t", deps=("running",)),
        }
    )
    return Scenario(plan, tools, "failed")


def abort_after_a_later_launch() -> Scenario:
    """``late`` fails only once ``c`` (launched after ``b`` succeeded) is running."""
    gate, c_started = anyio.Event(), anyio.Event()
    tools = ScriptedTools()
    tools.add("t")
    tools.add("late", gated_failure(gate))
    tools.add("slow", blocking(anyio.Event(), c_started))
    plan = make_plan(
        {
            "late": task("late"),
            "b": task("t", {"k": 1}),
            "c": task("slow", {"k": "$<b.output.k>"}, deps=("b",)),
            "d": task("t", deps=("c",)),
        }
    )

    async def drive(handle: RunHandle) -> None:
        await c_started.wait()
        gate.set()

    return Scenario(plan, tools, "failed", drive=drive)


class BlockingSleep:
    """A retry wait that lasts until the run is cancelled (and says when it began)."""

    def __init__(self) -> None:
        self.sleeping = anyio.Event()

    async def __call__(self, seconds: float) -> None:
        self.sleeping.set()
        await anyio.sleep_forever()


def cancelled_while_waiting_to_retry() -> Scenario:
    sleep = BlockingSleep()
    tools = ScriptedTools()
    tools.add("flaky", failing("try later", retryable=True))
    tools.add("t")
    plan = make_plan({"ok": task("t"), "f": task("flaky", deps=("ok",)), "g": task("t", deps=("f",))})

    async def drive(handle: RunHandle) -> None:
        await sleep.sleeping.wait()
        handle.cancel()

    return Scenario(plan, tools, "cancelled", drive=drive, sleep=sleep)


def not_permitted_and_source_bug() -> Scenario:
    tools = ScriptedTools()
    tools.add("t")
    tools.add("secret")
    tools.add("buggy", buggy)
    tools.denied.add("secret")
    plan = make_plan(
        {"s": task("secret"), "b": task("buggy", {"x": 1}), "ok": task("t"), "after": task("t", deps=("s",))},
        on_failure="continue",
    )
    return Scenario(plan, tools, "failed")


def output_shapes() -> Scenario:
    tools = ScriptedTools()
    tools.add("plain", returning(ToolResult(content=[{"type": "text", "text": "plain words"}])))
    tools.add("quoted", returning(ToolResult(content=[{"type": "text", "text": '"123"'}])))
    tools.add("number", returning(ToolResult(content=[{"type": "text", "text": "123"}])))
    two_blocks = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    tools.add("blocks", returning(ToolResult(content=two_blocks)))
    tools.add("empty", returning(ToolResult(structured_content={})))
    tools.add("nothing", returning(ToolResult(content=[{"type": "text", "text": "null"}])))
    tools.add("t")
    plan = make_plan(
        {
            "p": task("plain"),
            "q": task("quoted"),
            "n": task("number"),
            "b": task("blocks"),
            "e": task("empty"),
            "z": task("nothing"),
            "all": task(
                "t",
                {"p": "$<p.output>", "q": "$<q.output>", "n": "$<n.output>", "b": "$<b.output[1].text>"},
                deps=("p", "q", "n", "b"),
            ),
        },
        output={"text": "$<p.output> $<q.output> $<n.output>", "all": "$<all.output>", "z": "$<z.output>"},
    )
    return Scenario(plan, tools, "succeeded")


def concurrency_limit() -> Scenario:
    tools = ScriptedTools()
    tools.add("t")
    tools.add("limited", max_concurrency=1)
    tasks = {f"r{i}": task("t", {"i": i}) for i in range(4)}
    tasks.update({f"l{i}": task("limited", {"i": f"$<r{i}.output.i>"}, deps=(f"r{i}",)) for i in range(4)})
    limited = tuple(f"l{i}" for i in range(4))
    tasks["join"] = task("t", {"all": [f"$<{tid}.output.i>" for tid in limited]}, deps=limited)
    return Scenario(make_plan(tasks, max_concurrency=2), tools, "succeeded")


def demo_tools() -> Scenario:
    catalog = Catalog([demo_source()])
    plan = make_plan(
        {
            "x": task("add", {"a": "$<inputs.a>", "b": 2}),
            "y": task("multiply", {"a": "$<x.output.result>", "b": 3}, deps=("x",)),
            "f": task("flaky", {"times": 1, "value": "ok"}, retry=no_jitter(max_attempts=2)),
            "w": task("ledger_write", {"key": "k", "value": "$<y.output.result>"}, deps=("y",)),
            "s": task("concat", {"parts": ["$<f.output.result>", "-", "$<w.output.key>"]}, deps=("f", "w")),
        },
        inputs={"a": 1},
    )
    return Scenario(plan, catalog, "succeeded", inputs={"a": 4})


CORPUS: dict[str, Callable[[], Scenario]] = {
    fn.__name__: fn
    for fn in (
        success,
        retries,
        retries_exhausted,
        transport_and_timeout_retries,
        timeouts_not_retried,
        handler_recovers,
        handler_fails,
        compensation_in_reverse_order,
        failing_compensation,
        continue_skips,
        bad_reference,
        bad_reference_continue,
        deadline,
        cancelled,
        abort_cancels_running_task,
        abort_after_a_later_launch,
        cancelled_while_waiting_to_retry,
        not_permitted_and_source_bug,
        output_shapes,
        concurrency_limit,
        demo_tools,
    )
}
