"""PythonToolSource: tool specs from type hints, calls, and how failures come back."""

from __future__ import annotations

import copy
import json
import pickle
import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any

import jsonschema
import pytest
from pydantic import BaseModel, Field, TypeAdapter
from typing_extensions import TypedDict

from planexec.registry import (
    DuplicateToolError,
    PythonToolSource,
    RetryableToolError,
    ToolAnnotations,
    ToolCallError,
    ToolContext,
    ToolError,
    ToolErrorCode,
    ToolResult,
    ToolSource,
    tool,
)

pytestmark = pytest.mark.anyio


class Row(TypedDict):
    name: str
    count: int


class Report(BaseModel):
    title: str
    pages: int = 1


async def search(
    query: str,
    limit: Annotated[int, Field(ge=1, le=50, description="most rows to return")] = 10,
    tags: list[str] | None = None,
) -> list[str]:
    """Search the index.

    Longer explanation that is not part of the description.
    """
    return [f"{query}:{i}" for i in range(limit)][:2] + (tags or [])


async def one_row(name: str) -> Row:
    return {"name": name, "count": len(name)}


async def counts() -> dict[str, int]:
    return {"a": 1}


async def report(title: str) -> Report:
    return Report(title=title)


async def text() -> str:
    return "plain text"


async def nothing() -> None:
    return None


async def who(ctx: ToolContext, label: str = "x") -> dict[str, Any]:
    return {
        "label": label,
        "run_id": ctx.run_id,
        "task_id": ctx.task_id,
        "attempt": ctx.attempt,
        "idempotency_key": ctx.idempotency_key,
    }


async def raises_tool_error() -> int:
    raise ToolError("quota exhausted")


async def raises_retryable() -> int:
    raise RetryableToolError("upstream busy")


async def raises_other() -> int:
    raise KeyError("missing")


async def returns_wrong_type() -> int:
    return "not a number"  # type: ignore[return-value]


async def returns_unserializable() -> Any:
    return object()


async def returns_list_for_mapping() -> dict[str, int]:
    return [1, 2]  # type: ignore[return-value]


def sync_add(a: int, b: int) -> int:
    return a + b


_thread_ids: list[int] = []


def sync_thread() -> int:
    _thread_ids.append(threading.get_ident())
    return 0


def sync_fails() -> int:
    raise RetryableToolError("try again")


def http_post(url: str, json: dict[str, Any], schema: str = "", copy: bool = False) -> dict[str, Any]:
    return {"url": url, "json": json, "schema": schema, "copy": copy}


SOURCE = PythonToolSource(
    "local",
    [
        search,
        one_row,
        counts,
        report,
        text,
        nothing,
        who,
        raises_tool_error,
        raises_retryable,
        raises_other,
        returns_wrong_type,
        returns_unserializable,
        returns_list_for_mapping,
        sync_add,
        sync_thread,
        sync_fails,
        http_post,
    ],
)


def spec(name: str) -> Any:
    (found,) = [s for s in SOURCE.specs() if s.name == name]
    return found


def error_body(result: ToolResult) -> tuple[bool, str, bool]:
    assert result.structured_content is not None
    return result.is_error, result.structured_content["code"], result.structured_content["retryable"]


# --- specs from type hints -----------------------------------------------------------------


def test_source_lists_one_spec_per_function_in_order() -> None:
    assert [s.name for s in SOURCE.specs()][:3] == ["search", "one_row", "counts"]
    assert {s.source for s in SOURCE.specs()} == {"local"}
    assert isinstance(SOURCE, ToolSource)


def test_input_schema_comes_from_parameter_hints() -> None:
    schema = spec("search").input_schema
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["query"]
    assert "title" not in schema
    props = schema["properties"]
    assert props["query"]["type"] == "string"
    assert (props["limit"]["type"], props["limit"]["minimum"], props["limit"]["maximum"]) == (
        "integer",
        1,
        50,
    )
    assert props["limit"]["default"] == 10
    assert props["limit"]["description"] == "most rows to return"
    assert set(props) == {"query", "limit", "tags"}
    jsonschema.Draft202012Validator.check_schema(schema)


def test_description_is_the_first_docstring_paragraph() -> None:
    assert spec("search").description == "Search the index."
    assert spec("text").description == ""


@pytest.mark.parametrize(
    ("name", "annotation"),
    [
        ("search", list[str]),
        ("text", str),
        ("nothing", None),
        ("sync_add", int),
        ("returns_unserializable", Any),
    ],
)
def test_scalar_and_list_outputs_are_wrapped_in_result(name: str, annotation: Any) -> None:
    output = spec(name).output_schema
    assert output["type"] == "object"
    assert output["required"] == ["result"]
    assert output["properties"] == {"result": TypeAdapter(annotation).json_schema()}


@pytest.mark.parametrize(
    ("name", "annotation"), [("one_row", Row), ("counts", dict[str, int]), ("report", Report)]
)
def test_mapping_typeddict_and_model_outputs_are_not_wrapped(name: str, annotation: Any) -> None:
    assert spec(name).output_schema == TypeAdapter(annotation).json_schema()


def test_tool_context_is_left_out_of_the_input_schema() -> None:
    schema = spec("who").input_schema
    assert set(schema["properties"]) == {"label"}
    assert "required" not in schema or schema["required"] == []


def test_parameters_named_like_basemodel_methods_are_accepted() -> None:
    # json/schema/copy shadow BaseModel attributes; pydantic warns, and warnings are errors here.
    schema = spec("http_post").input_schema
    assert set(schema["properties"]) == {"url", "json", "schema", "copy"}


async def test_parameters_named_like_basemodel_methods_reach_the_function() -> None:
    arguments = {"url": "u", "json": {"a": 1}, "schema": "s", "copy": True}
    result = await SOURCE.call("http_post", arguments, {})
    assert result.structured_content == arguments


def test_tool_decorator_options_reach_the_spec() -> None:
    annotations = ToolAnnotations(read_only=True, idempotent=True)

    @tool(
        name="renamed",
        description="custom",
        annotations=annotations,
        timeout_s=5,
        cache_ttl_s=60,
        max_concurrency=2,
    )
    async def original(x: int) -> int:
        """Docstring that loses to the explicit description."""
        return x

    (found,) = PythonToolSource("s", [original]).specs()
    assert (found.name, found.description, found.annotations) == ("renamed", "custom", annotations)
    assert (found.timeout_s, found.cache_ttl_s, found.max_concurrency) == (5, 60, 2)


async def test_decorated_function_stays_callable() -> None:
    @tool(name="double")
    async def twice(x: int) -> int:
        return 2 * x

    assert await twice(4) == 8


async def test_prefix_names_the_tools_of_a_source() -> None:
    source = PythonToolSource("upstream", [sync_add], prefix="calc__")
    assert [s.name for s in source.specs()] == ["calc__sync_add"]
    result = await source.call("calc__sync_add", {"a": 1, "b": 2}, {})
    assert result.structured_content == {"result": 3}


def test_two_functions_with_one_tool_name_are_refused() -> None:
    @tool(name="sync_add")
    def other(a: int) -> int:
        return a

    with pytest.raises(DuplicateToolError):
        PythonToolSource("s", [sync_add, other])


def test_tool_spec_idempotent_means_read_only_or_idempotent() -> None:
    def make(**hints: bool) -> bool:
        @tool(annotations=ToolAnnotations(**hints))
        def f() -> int:
            return 0

        (found,) = PythonToolSource("s", [f]).specs()
        return found.idempotent

    assert make(read_only=True) and make(idempotent=True)
    assert not make() and not make(read_only=False, idempotent=False, destructive=True)


# --- calls -----------------------------------------------------------------------------------


async def test_scalar_result_is_wrapped_and_text_is_compact_json() -> None:
    result = await SOURCE.call("search", {"query": "q", "limit": 3, "tags": ["t"]}, {})
    assert result == ToolResult(
        content=[{"type": "text", "text": '["q:0","q:1","t"]'}],
        structured_content={"result": ["q:0", "q:1", "t"]},
        is_error=False,
    )


async def test_string_result_text_is_the_string_itself() -> None:
    result = await SOURCE.call("text", {}, {})
    assert result.content == [{"type": "text", "text": "plain text"}]
    assert result.structured_content == {"result": "plain text"}


async def test_none_result_is_wrapped_null() -> None:
    result = await SOURCE.call("nothing", {}, {})
    assert result.structured_content == {"result": None}


@pytest.mark.parametrize(
    ("name", "arguments", "structured"),
    [
        ("one_row", {"name": "abc"}, {"name": "abc", "count": 3}),
        ("counts", {}, {"a": 1}),
        ("report", {"title": "T"}, {"title": "T", "pages": 1}),
    ],
)
async def test_mapping_results_are_the_structured_content(
    name: str, arguments: dict[str, Any], structured: dict[str, Any]
) -> None:
    result = await SOURCE.call(name, arguments, {})
    assert not result.is_error
    assert result.structured_content == structured
    assert json.loads(result.content[0]["text"]) == structured
    jsonschema.validate(structured, spec(name).output_schema)


async def test_tool_context_receives_the_call_meta() -> None:
    meta = {
        "planexec/run_id": "r1",
        "planexec/task_id": "t1",
        "planexec/attempt": 3,
        "planexec/idempotency_key": "r1:t1",
        "other/key": "ignored",
    }
    result = await SOURCE.call("who", {"label": "L"}, meta)
    assert result.structured_content == {
        "label": "L",
        "run_id": "r1",
        "task_id": "t1",
        "attempt": 3,
        "idempotency_key": "r1:t1",
    }


async def test_tool_context_defaults_without_meta() -> None:
    result = await SOURCE.call("who", {}, {})
    assert result.structured_content == {
        "label": "x",
        "run_id": None,
        "task_id": None,
        "attempt": 1,
        "idempotency_key": None,
    }


def test_tool_context_from_meta_ignores_a_non_integer_attempt() -> None:
    assert ToolContext.from_meta({"planexec/attempt": "2"}).attempt == 1
    assert ToolContext.from_meta({"planexec/attempt": 2}) == ToolContext(attempt=2)


async def test_context_cannot_be_passed_as_an_argument() -> None:
    with pytest.raises(ToolCallError) as caught:
        await SOURCE.call("who", {"ctx": {"run_id": "forged"}}, {})
    assert caught.value.code is ToolErrorCode.INVALID_ARGUMENTS


@pytest.mark.parametrize(
    "arguments",
    [
        {},  # missing required
        {"query": 3},  # wrong type
        {"query": "q", "limit": 0},  # below the Field bound
        {"query": "q", "limit": 51},
        {"query": "q", "unexpected": 1},  # extra argument
        {"query": "q", "tags": "not-a-list"},
    ],
)
async def test_invalid_arguments_raise_invalid_arguments(arguments: dict[str, Any]) -> None:
    with pytest.raises(ToolCallError) as caught:
        await SOURCE.call("search", arguments, {})
    assert caught.value.code is ToolErrorCode.INVALID_ARGUMENTS
    assert caught.value.retryable is False
    errors = caught.value.detail["errors"]
    assert isinstance(errors, list) and errors
    json.dumps(errors)  # the detail is plain data


async def test_invalid_arguments_list_every_problem() -> None:
    with pytest.raises(ToolCallError) as caught:
        await SOURCE.call("sync_add", {"a": "x", "b": "y", "c": 1}, {})
    locations = sorted(tuple(e["loc"]) for e in caught.value.detail["errors"])
    assert locations == [("a",), ("b",), ("c",)]


@pytest.mark.parametrize(
    ("name", "retryable"),
    [
        ("raises_tool_error", False),
        ("raises_retryable", True),
        ("raises_other", False),
        ("sync_fails", True),
        ("returns_wrong_type", False),
        ("returns_unserializable", False),
        ("returns_list_for_mapping", False),
    ],
)
async def test_failures_are_error_results_with_retryable_flag(name: str, retryable: bool) -> None:
    result = await SOURCE.call(name, {}, {})
    assert error_body(result) == (True, "tool_error", retryable)
    assert result.retryable is retryable
    assert result.content[0]["type"] == "text"
    assert result.error_message() == result.content[0]["text"]


async def test_tool_error_message_is_reported_as_it_is() -> None:
    result = await SOURCE.call("raises_tool_error", {}, {})
    assert result.structured_content is not None
    assert result.structured_content["message"] == "quota exhausted"
    assert result.error_message() == "quota exhausted"


async def test_sync_function_runs_in_a_worker_thread() -> None:
    assert (await SOURCE.call("sync_add", {"a": 2, "b": 3}, {})).structured_content == {"result": 5}
    _thread_ids.clear()
    await SOURCE.call("sync_thread", {}, {})
    assert _thread_ids and _thread_ids[0] != threading.get_ident()


async def test_unknown_tool_of_a_source_raises() -> None:
    with pytest.raises(ToolCallError) as caught:
        await SOURCE.call("no_such_tool", {}, {})
    assert caught.value.retryable is False


async def test_arguments_mapping_is_not_mutated() -> None:
    arguments: Mapping[str, Any] = {"query": "q"}
    await SOURCE.call("search", arguments, {})
    assert arguments == {"query": "q"}


# --- ToolResult -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "retryable"),
    [
        (ToolResult(is_error=True, structured_content={"retryable": True}), True),
        (ToolResult(is_error=True, structured_content={"retryable": "yes"}), False),
        (ToolResult(is_error=True), False),
        (ToolResult(is_error=False, structured_content={"retryable": True}), False),
    ],
)
def test_tool_result_retryable_only_for_errors_that_say_so(result: ToolResult, retryable: bool) -> None:
    assert result.retryable is retryable


def test_tool_result_error_message_falls_back_to_text_blocks() -> None:
    result = ToolResult(
        is_error=True,
        content=[{"type": "text", "text": "a"}, {"type": "image", "data": ""}, {"type": "text", "text": "b"}],
    )
    assert result.error_message() == "a b"
    assert ToolResult(is_error=True).error_message() != ""


@pytest.mark.parametrize(
    "value",
    [None, 0, 1.5, True, "plain", "", ["q", 1, None], {"a": {"b": [1, 2]}, "é": "ü"}, {}],
)
def test_lazily_written_text_block_equals_the_eager_one(value: Any) -> None:
    structured = value if isinstance(value, dict) else {"result": value}
    lazy = ToolResult.from_value(value, structured)
    eager_text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    eager = ToolResult(content=[{"type": "text", "text": eager_text}], structured_content=structured)
    assert lazy == eager and eager == lazy
    assert lazy.content == [{"type": "text", "text": eager_text}]
    assert lazy.content is lazy.content  # written once
    assert (lazy.structured_content, lazy.is_error) == (structured, False)
    assert repr(lazy) == repr(eager)


async def test_call_results_read_the_same_before_and_after_their_text_is_written() -> None:
    first = await SOURCE.call("search", {"query": "q", "limit": 2}, {})
    second = await SOURCE.call("search", {"query": "q", "limit": 2}, {})
    assert first.structured_content == {"result": ["q:0", "q:1"]}
    assert first.content == [{"type": "text", "text": '["q:0","q:1"]'}]
    assert first == second  # one with its text written, one without


def test_tool_result_is_read_only_and_compares_by_value() -> None:
    result = ToolResult(structured_content={"a": 1})
    with pytest.raises(AttributeError):
        result.is_error = True  # type: ignore[misc]
    with pytest.raises(AttributeError):
        result.content = []  # type: ignore[misc]
    assert result == ToolResult(content=[], structured_content={"a": 1}, is_error=False)
    assert result != ToolResult(structured_content={"a": 1}, is_error=True)
    assert result != {"a": 1}
    assert ToolResult().content == [] and ToolResult().structured_content is None


def test_tool_results_copy_and_pickle_as_values() -> None:
    value = {"a": [1, "é"]}
    lazy = ToolResult.from_value(value, value)
    for copied in (copy.copy(lazy), copy.deepcopy(lazy), pickle.loads(pickle.dumps(lazy))):
        assert copied == lazy
        assert copied.content == [{"type": "text", "text": json.dumps(value, separators=(",", ":"))}]


def test_tool_result_copies_the_content_it_is_given() -> None:
    blocks = [{"type": "text", "text": "a"}]
    result = ToolResult(content=blocks)
    blocks.append({"type": "text", "text": "b"})
    assert result.content == [{"type": "text", "text": "a"}]


async def test_arguments_may_be_any_mapping() -> None:
    result = await SOURCE.call("sync_add", MappingProxyType({"a": 2, "b": 3}), {})
    assert result.structured_content == {"result": 5}


def test_tool_call_error_carries_code_retryable_and_detail() -> None:
    error = ToolCallError(ToolErrorCode.TRANSPORT_ERROR, "down", retryable=True, detail={"host": "h"})
    assert (error.code, error.retryable, error.detail, error.message) == (
        ToolErrorCode.TRANSPORT_ERROR,
        True,
        {"host": "h"},
        "down",
    )
    assert ToolCallError(ToolErrorCode.TOOL_ERROR, "x").detail == {}
