"""Run-time reference resolution and output extraction (DESIGN §3)."""

from __future__ import annotations

from typing import Any

import pytest

from planexec.executor import RunErrorCode
from planexec.executor._resolve import BadReference, extract_output, resolve
from planexec.registry import ToolResult
from planexec.schemas import Ref, RefKind

ROOTS: dict[tuple[RefKind, str | None], Any] = {
    (RefKind.INPUTS, None): {"quarter": "2026-Q3", "n": 3},
    (RefKind.OUTPUT, "fetch"): {"rows": [{"id": 7, "name": "a"}], "count": 1, "ok": True, "none": None},
    (RefKind.ERROR, "fetch"): {"code": "timeout", "message": "slow", "retryable": True, "detail": {}},
}


def lookup(ref: Ref) -> Any:
    return ROOTS[(ref.kind, ref.task)]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$<inputs.n>", 3),
        ("$<fetch.output.count>", 1),
        ("$<fetch.output.ok>", True),
        ("$<fetch.output.none>", None),
        ("$<fetch.output.rows>", [{"id": 7, "name": "a"}]),
        ("$<fetch.output.rows[0].name>", "a"),
        ("$<inputs>", {"quarter": "2026-Q3", "n": 3}),
        ("$<fetch.error.code>", "timeout"),
    ],
)
def test_whole_value_reference_keeps_its_json_type(template: str, expected: Any) -> None:
    assert resolve(template, lookup) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Sales for $<inputs.quarter>", "Sales for 2026-Q3"),
        ("n=$<inputs.n>, ok=$<fetch.output.ok>", "n=3, ok=true"),
        ("rows: $<fetch.output.rows>", 'rows: [{"id":7,"name":"a"}]'),
        ("none: $<fetch.output.none>", "none: null"),
        ("$<inputs.n>$<inputs.n>", "33"),
    ],
)
def test_reference_inside_a_string_interpolates_strings_as_is_and_others_as_compact_json(
    template: str, expected: str
) -> None:
    assert resolve(template, lookup) == expected


def test_double_dollar_is_a_literal_reference_opener() -> None:
    assert resolve("cost: $$<inputs.n> and $<inputs.n>", lookup) == "cost: $<inputs.n> and 3"
    assert resolve("$$<inputs.n>", lookup) == "$<inputs.n>"


def test_nested_parameters_are_resolved_and_keys_are_left_alone() -> None:
    parameters = {"$<inputs.n>": ["$<inputs.n>", {"q": "$<inputs.quarter>"}], "plain": 1.5, "flag": False}
    assert resolve(parameters, lookup) == {"$<inputs.n>": [3, {"q": "2026-Q3"}], "plain": 1.5, "flag": False}


def test_missing_key_names_the_path_and_the_keys_that_exist() -> None:
    with pytest.raises(BadReference) as caught:
        resolve({"x": "$<fetch.output.rows[0].missing>"}, lookup)
    error = caught.value.error
    assert error.code is RunErrorCode.BAD_REFERENCE
    assert error.retryable is False
    assert error.detail == {
        "reference": "$<fetch.output.rows[0].missing>",
        "missing": "missing",
        "at": "$<fetch.output.rows[0]>",
        "available": ["id", "name"],
    }


def test_index_past_the_end_of_a_list_is_a_bad_reference() -> None:
    with pytest.raises(BadReference) as caught:
        resolve("$<fetch.output.rows[3]>", lookup)
    assert caught.value.error.detail["missing"] == 3
    assert caught.value.error.detail["at"] == "$<fetch.output.rows>"


def test_key_into_a_scalar_is_a_bad_reference_inside_interpolation_too() -> None:
    with pytest.raises(BadReference) as caught:
        resolve("count is $<fetch.output.count.value>", lookup)
    assert caught.value.error.detail["available"] == []


def test_structured_content_is_the_output_when_present() -> None:
    result = ToolResult(content=[{"type": "text", "text": "ignored"}], structured_content={"result": 5})
    assert extract_output(result) == {"result": 5}


def test_single_text_block_that_parses_as_json_is_the_parsed_value() -> None:
    assert extract_output(ToolResult(content=[{"type": "text", "text": '{"a": [1, 2]}'}])) == {"a": [1, 2]}
    assert extract_output(ToolResult(content=[{"type": "text", "text": "42"}])) == 42


def test_single_text_block_that_is_not_json_is_the_text() -> None:
    assert extract_output(ToolResult(content=[{"type": "text", "text": "hello"}])) == "hello"


def test_several_blocks_or_a_non_text_block_are_the_list_of_blocks() -> None:
    blocks = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    assert extract_output(ToolResult(content=blocks)) == blocks
    image = [{"type": "image", "data": "AAAA", "mimeType": "image/png"}]
    assert extract_output(ToolResult(content=image)) == image
    assert extract_output(ToolResult()) == []
