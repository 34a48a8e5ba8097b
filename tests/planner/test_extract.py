"""extract_json: the plan object out of what models actually write."""

from __future__ import annotations

import json

import pytest

from planexec.planner import JSONExtractionError, extract_json
from planexec.schemas import ErrorCode

PLAN = {"tasks": {"a": {"tool_name": "add", "parameters": {"a": 1, "b": 2}, "dependencies": []}}}
TEXT = json.dumps(PLAN)
PRETTY = json.dumps(PLAN, indent=2)


@pytest.mark.parametrize(
    "answer",
    [
        TEXT,
        f"  \n{PRETTY}\n\n",
        f"```json\n{PRETTY}\n```",
        f"```JSON\n{PRETTY}\n```",
        f"```\n{PRETTY}\n```",
        f"~~~json\n{PRETTY}\n~~~",
        f"Here is the plan:\n\n```json\n{PRETTY}\n```\n\nIt runs both sums in parallel.",
        f"Sure! {TEXT} Let me know if you need changes.",
        f"The plan uses {{braces}} in prose first, then: {TEXT}",
        f'A draft:\n```json\n{{"note": "thinking"}}\n```\nThe plan:\n```json\n{PRETTY}\n```',
        f'```json\n{{"tasks": {{broken\n```\nCorrected:\n```json\n{PRETTY}\n```',
        f"```python\nprint('hi')\n```\n{TEXT}",
    ],
    ids=[
        "bare",
        "whitespace",
        "json-fence",
        "JSON-fence",
        "plain-fence",
        "tilde-fence",
        "prose-around-fence",
        "prose-around-bare",
        "braces-in-prose",
        "first-object-without-tasks-skipped",
        "broken-block-then-good-block",
        "other-fence-then-bare",
    ],
)
def test_the_plan_is_found(answer: str) -> None:
    assert extract_json(answer) == PLAN


def test_the_node_form_counts_as_a_plan() -> None:
    node_form = {"nodes": [{"id": "a", "tool": "add"}]}
    answer = f'{{"reasoning": "first"}}\n{json.dumps(node_form)}'
    assert extract_json(answer) == node_form


@pytest.mark.parametrize("answer", ['{"goal": "x"}', 'I think:\n```json\n{"goal": "x"}\n```'])
def test_a_whole_object_without_tasks_is_returned_when_there_is_nothing_better(answer: str) -> None:
    # validation then reports the missing tasks: the repair loop handles it
    assert extract_json(answer) == {"goal": "x"}


def test_a_fragment_of_a_broken_object_is_not_taken_for_the_answer() -> None:
    with pytest.raises(JSONExtractionError):
        extract_json("""I think: {'tasks': {"a": {"x": 1}}}""")


def test_a_nested_object_is_not_taken_for_the_plan() -> None:
    answer = f"prefix {TEXT} suffix"
    assert extract_json(answer) is not PLAN["tasks"]
    assert "tasks" in extract_json(answer)


@pytest.mark.parametrize(
    "answer",
    [
        "",
        "   \n",
        "I cannot make a plan for that.",
        '{"tasks": {"a": 1,}}',
        "```json\n{'tasks': {}}\n```",
        "[1, 2, 3]",
        '"just a string"',
    ],
    ids=["empty", "blank", "prose", "trailing-comma", "single-quotes", "array", "string"],
)
def test_no_object_is_an_invalid_json_problem(answer: str) -> None:
    with pytest.raises(JSONExtractionError) as caught:
        extract_json(answer)
    problem = caught.value.problem
    assert problem.code is ErrorCode.INVALID_JSON
    assert problem.path == ""
    assert problem.hint


def test_a_decode_error_reports_where() -> None:
    with pytest.raises(JSONExtractionError) as caught:
        extract_json('{"tasks": {"a": 1,}}')
    assert caught.value.problem.detail["line"] == 1
    assert caught.value.problem.detail["column"] == 19


def test_many_stray_braces_stay_bounded() -> None:
    answer = "{" * 50_000 + TEXT
    with pytest.raises(JSONExtractionError):
        extract_json(answer)  # the scan gives up after a bounded number of starts
