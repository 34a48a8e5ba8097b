"""Attempts (DESIGN §5): retry policy, what is retryable, timeouts, ``_meta``."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from planexec.executor import RunErrorCode, RunStatus, TaskStatus
from planexec.registry import ToolCallError, ToolErrorCode

from .support import Harness, ToolFn, failing, make_plan, no_jitter, task

pytestmark = pytest.mark.anyio


def raising(code: ToolErrorCode, *, retryable: bool = False) -> ToolFn:
    async def tool(arguments: dict[str, Any], meta: dict[str, Any]) -> Any:
        raise ToolCallError(code, f"{code} happened", retryable=retryable)

    return tool


async def hang(arguments: dict[str, Any], meta: dict[str, Any]) -> Any:
    await anyio.sleep_forever()


async def test_retryable_tool_error_is_retried_until_it_succeeds_with_exponential_waits(
    harness: Harness,
) -> None:
    harness.tools.add("flaky", failing(retryable=True, times=3))
    retry = no_jitter(max_attempts=5, initial_delay_s=0.5, backoff=2.0, max_delay_s=10)
    plan = make_plan({"f": task("flaky", {"v": 1}, retry=retry)})
    record = await harness.executor().run(plan)
    f = record.tasks["f"]
    assert f.status is TaskStatus.SUCCEEDED
    assert [a.n for a in f.attempts] == [1, 2, 3, 4]
    assert [a.error.code if a.error else None for a in f.attempts] == ["tool_error"] * 3 + [None]
    assert f.output == {"v": 1}
    assert harness.sleep.waits == [0.5, 1.0, 2.0]


async def test_waits_are_capped_at_max_delay(harness: Harness) -> None:
    harness.tools.add("flaky", failing(retryable=True))
    retry = no_jitter(max_attempts=4, initial_delay_s=4, backoff=3.0, max_delay_s=10)
    record = await harness.executor().run(make_plan({"f": task("flaky", retry=retry)}))
    assert record.tasks["f"].status is TaskStatus.FAILED
    assert len(record.tasks["f"].attempts) == 4
    assert harness.sleep.waits == [4, 10, 10]


async def test_default_policy_makes_three_attempts_with_jittered_waits(harness: Harness) -> None:
    harness.tools.add("flaky", failing(retryable=True))
    record = await harness.executor().run(make_plan({"f": task("flaky")}))
    f = record.tasks["f"]
    assert f.status is TaskStatus.FAILED
    assert len(f.attempts) == 3
    first, second = harness.sleep.waits
    assert 0.5 <= first <= 1.0
    assert 1.0 <= second <= 1.5
    assert f.error is not None and f.error.code is RunErrorCode.TOOL_ERROR


@pytest.mark.parametrize(
    ("tool", "code"),
    [
        (failing(retryable=False), RunErrorCode.TOOL_ERROR),
        (raising(ToolErrorCode.INVALID_ARGUMENTS, retryable=True), RunErrorCode.INVALID_ARGUMENTS),
        (raising(ToolErrorCode.TOOL_NOT_PERMITTED, retryable=True), RunErrorCode.TOOL_NOT_PERMITTED),
    ],
)
async def test_non_retryable_failures_get_one_attempt(
    harness: Harness, tool: ToolFn, code: RunErrorCode
) -> None:
    harness.tools.add("t", tool)
    record = await harness.executor().run(make_plan({"a": task("t")}))
    a = record.tasks["a"]
    assert a.status is TaskStatus.FAILED
    assert len(a.attempts) == 1
    assert a.error is not None and (a.error.code, a.error.retryable) == (code, False)
    assert harness.sleep.waits == []


async def test_transport_errors_are_retried(harness: Harness) -> None:
    harness.tools.add("t", raising(ToolErrorCode.TRANSPORT_ERROR))
    record = await harness.executor().run(make_plan({"a": task("t", retry=no_jitter(max_attempts=2))}))
    a = record.tasks["a"]
    assert [att.error.code for att in a.attempts if att.error] == ["transport_error"] * 2
    assert a.error is not None and a.error.retryable is True


async def test_an_exception_from_the_source_is_a_non_retryable_tool_error(harness: Harness) -> None:
    async def broken(arguments: dict[str, Any], meta: dict[str, Any]) -> Any:
        raise RuntimeError("bug in the source")

    harness.tools.add("t", broken)
    record = await harness.executor().run(make_plan({"a": task("t")}))
    a = record.tasks["a"]
    assert len(a.attempts) == 1
    assert a.error is not None and a.error.code is RunErrorCode.TOOL_ERROR
    assert a.error.detail == {"exception": "RuntimeError"}


async def test_a_tool_the_run_may_not_use_fails_without_a_call(harness: Harness) -> None:
    harness.tools.add("secret")
    harness.tools.denied.add("secret")
    record = await harness.executor().run(make_plan({"a": task("secret")}))
    a = record.tasks["a"]
    assert (a.status, a.attempts) == (TaskStatus.FAILED, [])
    assert a.error is not None and a.error.code is RunErrorCode.TOOL_NOT_PERMITTED
    assert harness.tools.calls == []


async def test_timeouts_of_an_idempotent_tool_are_retried(harness: Harness) -> None:
    harness.tools.add("t", hang, idempotent=True)
    plan = make_plan({"a": task("t", timeout_s=0.01, retry=no_jitter(max_attempts=3, initial_delay_s=0))})
    record = await harness.executor().run(plan)
    a = record.tasks["a"]
    assert [att.error.code for att in a.attempts if att.error] == ["timeout"] * 3
    assert a.error is not None and a.error.detail == {"timeout_s": 0.01}


async def test_a_non_idempotent_tool_is_not_retried_after_a_timeout(harness: Harness) -> None:
    harness.tools.add("t", hang, idempotent=False)
    plan = make_plan({"a": task("t", timeout_s=0.01, retry=no_jitter(max_attempts=3, initial_delay_s=0))})
    record = await harness.executor().run(plan)
    a = record.tasks["a"]
    assert len(a.attempts) == 1
    assert a.error is not None and (a.error.code, a.error.retryable) == (RunErrorCode.TIMEOUT, False)


async def test_retry_after_timeout_opts_a_non_idempotent_tool_back_into_retries(harness: Harness) -> None:
    harness.tools.add("t", hang, idempotent=False)
    retry = no_jitter(max_attempts=2, initial_delay_s=0)
    plan = make_plan({"a": task("t", timeout_s=0.01, retry=retry, retry_after_timeout=True)})
    record = await harness.executor().run(plan)
    assert len(record.tasks["a"].attempts) == 2


async def test_a_non_idempotent_tool_is_still_retried_after_a_retryable_tool_error(harness: Harness) -> None:
    harness.tools.add("t", failing(retryable=True, times=1), idempotent=False)
    record = await harness.executor().run(make_plan({"a": task("t", retry=no_jitter(max_attempts=2))}))
    assert record.tasks["a"].status is TaskStatus.SUCCEEDED
    assert len(record.tasks["a"].attempts) == 2


async def test_tool_timeout_applies_when_the_task_sets_none(harness: Harness) -> None:
    harness.tools.add("t", hang, timeout_s=0.01)
    record = await harness.executor().run(make_plan({"a": task("t", retry=no_jitter(max_attempts=1))}))
    a = record.tasks["a"]
    assert a.error is not None and a.error.code is RunErrorCode.TIMEOUT


async def test_every_call_carries_run_task_attempt_and_a_stable_idempotency_key(harness: Harness) -> None:
    harness.tools.add("t", failing(retryable=True, times=2))
    plan = make_plan({"job": task("t", retry=no_jitter(max_attempts=3))})
    record = await harness.executor().run(plan, run_id="run-1")
    assert record.status is RunStatus.SUCCEEDED
    assert [c.meta for c in harness.tools.calls] == [
        {
            "planexec/run_id": "run-1",
            "planexec/task_id": "job",
            "planexec/attempt": n,
            "planexec/idempotency_key": "run-1:job",
        }
        for n in (1, 2, 3)
    ]


async def test_an_attempt_with_a_timeout_carries_it_in_meta(harness: Harness) -> None:
    harness.tools.add("t", failing(retryable=True, times=0))
    plan = make_plan({"job": task("t", timeout_s=2.5)})
    record = await harness.executor().run(plan, run_id="run-1")
    assert record.status is RunStatus.SUCCEEDED
    assert harness.tools.calls[0].meta["planexec/timeout_s"] == 2.5


async def test_every_attempt_records_its_arguments_and_times(harness: Harness) -> None:
    harness.tools.add("t", failing(retryable=True, times=1))
    plan = make_plan({"a": task("t", {"x": "$<inputs.x>"}, retry=no_jitter(max_attempts=2))}, inputs={"x": 5})
    record = await harness.executor().run(plan)
    first, second = record.tasks["a"].attempts
    assert first.arguments == second.arguments == {"x": 5}
    assert first.started_at < first.finished_at < second.started_at < second.finished_at
