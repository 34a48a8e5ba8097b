"""The demo toolset (DESIGN §10): each tool's behaviour, flaky counting and the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from planexec.registry import (
    PythonToolSource,
    ToolCallError,
    ToolErrorCode,
    ToolResult,
    demo_source,
    ledger_snapshot,
    reset_demo_state,
)

pytestmark = pytest.mark.anyio

DEMO = demo_source()
SPECS = {s.name: s for s in DEMO.specs()}


@pytest.fixture(autouse=True)
def clean_demo_state() -> Iterator[None]:
    reset_demo_state()
    yield
    reset_demo_state()


def meta(run_id: str | None = "run-1", task_id: str | None = "t", key: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if run_id is not None:
        out["planexec/run_id"] = run_id
    if task_id is not None:
        out["planexec/task_id"] = task_id
    if key is not None:
        out["planexec/idempotency_key"] = key
    return out


async def call(name: str, arguments: dict[str, Any], call_meta: dict[str, Any] | None = None) -> ToolResult:
    result = await DEMO.call(name, arguments, call_meta or {})
    if not result.is_error:
        # every answer matches the output schema the tool declares (static checks rely on it)
        jsonschema.validate(result.structured_content, SPECS[name].output_schema or {})
    return result


async def value_of(name: str, arguments: dict[str, Any], call_meta: dict[str, Any] | None = None) -> Any:
    result = await call(name, arguments, call_meta)
    assert not result.is_error
    assert result.structured_content is not None
    return result.structured_content


# --- the toolset ---------------------------------------------------------------------------------


def test_demo_source_offers_the_documented_tools() -> None:
    assert list(SPECS) == [
        "echo",
        "add",
        "multiply",
        "concat",
        "sleep",
        "fail",
        "flaky",
        "ledger_write",
        "ledger_delete",
        "ledger_read",
    ]
    assert DEMO.name == "demo"
    assert demo_source("other").name == "other"
    assert isinstance(DEMO, PythonToolSource)


@pytest.mark.parametrize("name", list(SPECS))
def test_every_demo_tool_declares_valid_input_and_output_schemas(name: str) -> None:
    spec = SPECS[name]
    assert spec.description
    assert spec.output_schema is not None
    jsonschema.Draft202012Validator.check_schema(spec.input_schema)
    jsonschema.Draft202012Validator.check_schema(spec.output_schema)
    assert spec.input_schema["type"] == "object" and spec.input_schema["additionalProperties"] is False


def test_annotations_separate_pure_tools_from_ledger_writes() -> None:
    pure = {"echo", "add", "multiply", "concat", "sleep", "fail", "flaky", "ledger_read"}
    assert {n for n, s in SPECS.items() if s.annotations.read_only} == pure
    assert {n for n, s in SPECS.items() if s.annotations.destructive} == {"ledger_delete"}
    assert all(s.idempotent for s in SPECS.values())


@pytest.mark.parametrize(
    "value", [None, 0, 1.5, "text", [1, "a"], {"nested": {"k": [True, None]}}, "", False]
)
async def test_echo_returns_its_value(value: Any) -> None:
    assert await value_of("echo", {"value": value}) == {"result": value}


@pytest.mark.parametrize(
    ("name", "a", "b", "expected"),
    [
        ("add", 1, 2, 3),
        ("add", 1.5, 2, 3.5),
        ("add", -1, 1, 0),
        ("multiply", 3, 4, 12),
        ("multiply", 0.5, 3, 1.5),
    ],
)
async def test_arithmetic(name: str, a: float, b: float, expected: float) -> None:
    assert await value_of(name, {"a": a, "b": b}) == {"result": expected}


async def test_integer_arithmetic_stays_integer() -> None:
    result = (await value_of("add", {"a": 2, "b": 3}))["result"]
    assert result == 5 and type(result) is int


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"parts": ["a", "b", "c"]}, "abc"),
        ({"parts": ["a", "b"], "sep": ", "}, "a, b"),
        ({"parts": []}, ""),
    ],
)
async def test_concat(arguments: dict[str, Any], expected: str) -> None:
    assert await value_of("concat", arguments) == {"result": expected}


async def test_sleep_returns_its_value() -> None:
    assert await value_of("sleep", {"seconds": 0, "value": {"done": True}}) == {"result": {"done": True}}
    assert await value_of("sleep", {"seconds": 0}) == {"result": None}


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("add", {"a": 1}),
        ("add", {"a": "one", "b": 2}),
        ("concat", {"parts": "abc"}),
        ("sleep", {"seconds": -1}),
        ("sleep", {"seconds": 3601}),
        ("flaky", {"times": -1, "value": 1}),
        ("ledger_write", {"key": "k"}),
        ("echo", {"value": 1, "extra": 2}),
    ],
)
async def test_bad_arguments_are_invalid_arguments(name: str, arguments: dict[str, Any]) -> None:
    with pytest.raises(ToolCallError) as caught:
        await DEMO.call(name, arguments, {})
    assert caught.value.code is ToolErrorCode.INVALID_ARGUMENTS


async def test_fail_is_a_non_retryable_tool_error_with_its_message() -> None:
    result = await call("fail", {"message": "boom"})
    assert result.is_error and not result.retryable
    assert result.structured_content == {"code": "tool_error", "message": "boom", "retryable": False}


# --- flaky ------------------------------------------------------------------------------------


async def test_flaky_fails_the_first_attempts_retryably_then_returns_its_value() -> None:
    outcomes = [await call("flaky", {"times": 2, "value": "ok"}, meta()) for _ in range(4)]
    assert [(r.is_error, r.retryable) for r in outcomes] == [
        (True, True),
        (True, True),
        (False, False),
        (False, False),
    ]
    assert outcomes[2].structured_content == {"result": "ok"}


async def test_flaky_with_zero_times_succeeds_at_once() -> None:
    assert await value_of("flaky", {"times": 0, "value": 7}, meta()) == {"result": 7}


async def test_flaky_counts_attempts_per_run_and_task() -> None:
    arguments = {"times": 1, "value": "v"}
    assert (await call("flaky", arguments, meta("r1", "a"))).is_error
    assert (await call("flaky", arguments, meta("r1", "b"))).is_error  # another task: its own count
    assert (await call("flaky", arguments, meta("r2", "a"))).is_error  # another run: its own count
    assert not (await call("flaky", arguments, meta("r1", "a"))).is_error
    assert not (await call("flaky", arguments, meta("r1", "b"))).is_error
    assert not (await call("flaky", arguments, meta("r2", "a"))).is_error


async def test_flaky_without_run_id_counts_per_idempotency_key() -> None:
    arguments = {"times": 1, "value": "v"}
    assert (await call("flaky", arguments, meta(None, None, key="k1"))).is_error
    assert (await call("flaky", arguments, meta(None, None, key="k2"))).is_error
    assert not (await call("flaky", arguments, meta(None, None, key="k1"))).is_error


async def test_reset_demo_state_resets_flaky_counts() -> None:
    arguments = {"times": 1, "value": "v"}
    assert (await call("flaky", arguments, meta())).is_error
    reset_demo_state()
    assert (await call("flaky", arguments, meta())).is_error


# --- the ledger ---------------------------------------------------------------------------------


async def test_ledger_write_read_delete() -> None:
    assert await value_of("ledger_write", {"key": "a", "value": 1}) == {"key": "a", "value": 1}
    assert await value_of("ledger_write", {"key": "b", "value": {"x": [1]}}) == {
        "key": "b",
        "value": {"x": [1]},
    }
    assert await value_of("ledger_read", {}) == {"entries": {"a": 1, "b": {"x": [1]}}}
    assert ledger_snapshot() == {"a": 1, "b": {"x": [1]}}
    assert await value_of("ledger_delete", {"key": "a"}) == {"key": "a", "deleted": True}
    assert await value_of("ledger_delete", {"key": "a"}) == {"key": "a", "deleted": False}
    assert await value_of("ledger_read", {}) == {"entries": {"b": {"x": [1]}}}


async def test_ledger_write_overwrites_and_stores_null() -> None:
    await value_of("ledger_write", {"key": "k", "value": 1})
    await value_of("ledger_write", {"key": "k", "value": None})
    assert ledger_snapshot() == {"k": None}
    assert await value_of("ledger_delete", {"key": "k"}) == {"key": "k", "deleted": True}


async def test_ledger_snapshot_is_a_copy() -> None:
    await value_of("ledger_write", {"key": "k", "value": 1})
    snapshot = ledger_snapshot()
    snapshot["other"] = 2
    assert ledger_snapshot() == {"k": 1}


async def test_reset_demo_state_clears_the_ledger() -> None:
    await value_of("ledger_write", {"key": "k", "value": 1})
    reset_demo_state()
    assert ledger_snapshot() == {}
    assert await value_of("ledger_read", {}) == {"entries": {}}
