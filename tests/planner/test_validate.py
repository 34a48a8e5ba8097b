"""Every check and stable code of DESIGN §4, positive and negative."""

from __future__ import annotations

from typing import Any

import pytest

from planexec.planner import Limits, validate_plan
from planexec.registry import Catalog, ToolSpec
from planexec.schemas import ErrorCode, WarningCode


def codes(result: Any) -> list[tuple[str, str]]:
    return [(p.code, p.path) for p in result.errors]


def test_good_plan_is_valid_with_no_warnings(good_plan: dict[str, Any], demo_tools: Catalog) -> None:
    result = validate_plan(good_plan, demo_tools)
    assert result.valid, result.errors
    assert result.errors == [] and result.warnings == []
    assert result.plan is not None
    assert str(result.plan.plan_id) == good_plan["plan_id"]


def test_validation_does_not_mutate_the_callers_document(
    good_plan: dict[str, Any], demo_tools: Catalog
) -> None:
    good_plan["tasks"]["double"]["dependencies"] = []
    before = repr(good_plan)
    validate_plan(good_plan, demo_tools)
    assert repr(good_plan) == before


def test_missing_plan_id_is_assigned_with_a_warning(good_plan: dict[str, Any], demo_tools: Catalog) -> None:
    del good_plan["plan_id"]
    result = validate_plan(good_plan, demo_tools)
    assert result.valid and result.plan is not None
    [warning] = result.warnings
    assert warning.code == WarningCode.ASSIGNED_PLAN_ID
    assert warning.detail["plan_id"] == result.plan.plan_id


def test_reference_without_dependency_adds_it_and_warns(
    good_plan: dict[str, Any], demo_tools: Catalog
) -> None:
    good_plan["tasks"]["double"]["dependencies"] = []
    result = validate_plan(good_plan, demo_tools)
    assert result.valid and result.plan is not None
    assert result.plan.tasks["double"].dependencies == ["sum"]
    [warning] = result.warnings
    assert (warning.code, warning.path) == (WarningCode.IMPLICIT_DEPENDENCY, "/tasks/double/parameters/a")


def test_error_reference_in_handler_adds_no_dependency(
    good_plan: dict[str, Any], demo_tools: Catalog
) -> None:
    result = validate_plan(good_plan, demo_tools)
    assert result.plan is not None and result.plan.tasks["fallback"].dependencies == []


def test_foreign_reference_syntax_is_normalised_with_a_warning(
    good_plan: dict[str, Any], demo_tools: Catalog
) -> None:
    good_plan["tasks"]["double"]["parameters"]["a"] = "${sum.output.result}"
    result = validate_plan(good_plan, demo_tools)
    assert result.valid and result.plan is not None
    assert result.plan.tasks["double"].parameters["a"] == "$<sum.output.result>"
    assert [w.code for w in result.warnings] == [WarningCode.NORMALIZED_REFERENCE]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([], [(ErrorCode.SCHEMA_VIOLATION, "")]),
        ({}, [(ErrorCode.SCHEMA_VIOLATION, "")]),
        ({"tasks": {}}, [(ErrorCode.SCHEMA_VIOLATION, "/tasks")]),
        (
            {"tasks": {"a": {"tool_name": "echo", "parameters": {"value": 1}}}},
            [(ErrorCode.SCHEMA_VIOLATION, "/tasks/a")],
        ),
        (
            {
                "tasks": {
                    "a": {"tool_name": "echo", "parameters": {"value": 1}, "dependencies": [], "colour": 1}
                }
            },
            [(ErrorCode.SCHEMA_VIOLATION, "/tasks/a")],
        ),
        (
            {"tasks": {"1a": {"tool_name": "echo", "parameters": {"value": 1}, "dependencies": []}}},
            [(ErrorCode.INVALID_TASK_ID, "/tasks/1a")],
        ),
        (
            {"tasks": {"inputs": {"tool_name": "echo", "parameters": {"value": 1}, "dependencies": []}}},
            [(ErrorCode.INVALID_TASK_ID, "/tasks/inputs")],
        ),
        (
            {"tasks": {"a": {"tool_name": "echo", "parameters": {"value": 1}, "dependencies": ["b"]}}},
            [(ErrorCode.UNKNOWN_DEPENDENCY, "/tasks/a/dependencies/0")],
        ),
        (
            {"tasks": {"a": {"tool_name": "echo", "parameters": {"value": 1}, "dependencies": ["a"]}}},
            [(ErrorCode.SELF_DEPENDENCY, "/tasks/a/dependencies/0")],
        ),
        (
            {
                "tasks": {
                    "a": {"tool_name": "echo", "parameters": {"value": "$<a.output>"}, "dependencies": []}
                }
            },
            [(ErrorCode.SELF_DEPENDENCY, "/tasks/a/parameters/value")],
        ),
        (
            {
                "tasks": {
                    "a": {"tool_name": "echo", "parameters": {"value": "$<b.outpt>"}, "dependencies": []}
                }
            },
            [(ErrorCode.INVALID_REFERENCE, "/tasks/a/parameters/value")],
        ),
        (
            {
                "tasks": {
                    "a": {"tool_name": "echo", "parameters": {"value": "$<zz.output>"}, "dependencies": []}
                }
            },
            [(ErrorCode.UNKNOWN_REFERENCE_TARGET, "/tasks/a/parameters/value")],
        ),
        (
            {"tasks": {"a": {"tool_name": "nope", "parameters": {}, "dependencies": []}}},
            [(ErrorCode.UNKNOWN_TOOL, "/tasks/a/tool_name")],
        ),
        (
            {"tasks": {"a": {"tool_name": "add", "parameters": {"a": "x"}, "dependencies": []}}},
            [
                (ErrorCode.INVALID_ARGUMENTS, "/tasks/a/parameters"),
                (ErrorCode.INVALID_ARGUMENTS, "/tasks/a/parameters/a"),
            ],
        ),
        (
            {
                "tasks": {
                    "a": {
                        "tool_name": "echo",
                        "parameters": {"value": 1},
                        "dependencies": [],
                        "error_handling": {"on_error": "h"},
                    }
                }
            },
            [(ErrorCode.UNKNOWN_HANDLER, "/tasks/a/error_handling/on_error")],
        ),
        (
            {
                "tasks": {
                    "a": {
                        "tool_name": "echo",
                        "parameters": {"value": 1},
                        "dependencies": [],
                        "error_handling": {"on_error": "a"},
                    }
                }
            },
            [(ErrorCode.INVALID_HANDLER, "/tasks/a/error_handling/on_error")],
        ),
    ],
    ids=[
        "array",
        "no-tasks",
        "empty-tasks",
        "no-dependencies",
        "extra-field",
        "bad-id",
        "reserved-id",
        "unknown-dependency",
        "self-dependency",
        "self-reference",
        "malformed-reference",
        "unknown-reference-target",
        "unknown-tool",
        "invalid-arguments",
        "unknown-handler",
        "self-handler",
    ],
)
def test_each_check_reports_its_code_at_its_path(
    document: Any, expected: list[tuple[str, str]], demo_tools: Catalog
) -> None:
    result = validate_plan(document, demo_tools)
    assert not result.valid and result.plan is None
    assert sorted(codes(result)) == sorted(expected)


def test_all_problems_are_reported_at_once(demo_tools: Catalog) -> None:
    document = {
        "tasks": {
            "a": {"tool_name": "nope", "parameters": {}, "dependencies": ["ghost"]},
            "b": {"tool_name": "add", "parameters": {"a": "$<a.output>", "b": "x"}, "dependencies": ["c"]},
            "c": {"tool_name": "echo", "parameters": {"value": "$<b.output>"}, "dependencies": []},
        }
    }
    result = validate_plan(document, demo_tools)
    assert {p.code for p in result.errors} == {
        ErrorCode.UNKNOWN_TOOL,
        ErrorCode.UNKNOWN_DEPENDENCY,
        ErrorCode.INVALID_ARGUMENTS,
        ErrorCode.CYCLE,
    }


def test_cycle_lists_the_cycle_in_detail(demo_tools: Catalog) -> None:
    tasks = {
        name: {"tool_name": "echo", "parameters": {"value": 1}, "dependencies": [dep]}
        for name, dep in [("a", "c"), ("b", "a"), ("c", "b"), ("d", "a")]
    }
    result = validate_plan({"tasks": tasks}, demo_tools)
    [cycle] = [p for p in result.errors if p.code == ErrorCode.CYCLE]
    assert cycle.detail["cycle"] == ["a", "c", "b"]
    assert "a -> c -> b -> a" in cycle.message


def test_each_independent_cycle_is_reported_once(demo_tools: Catalog) -> None:
    tasks = {
        name: {"tool_name": "echo", "parameters": {"value": 1}, "dependencies": [dep]}
        for name, dep in [("a", "b"), ("b", "a"), ("x", "y"), ("y", "z"), ("z", "x")]
    }
    result = validate_plan({"tasks": tasks}, demo_tools)
    cycles = sorted(sorted(p.detail["cycle"]) for p in result.errors if p.code == ErrorCode.CYCLE)
    assert cycles == [["a", "b"], ["x", "y", "z"]]


def test_cycle_through_a_reference_is_found(demo_tools: Catalog) -> None:
    tasks = {
        "a": {"tool_name": "echo", "parameters": {"value": "$<b.output>"}, "dependencies": []},
        "b": {"tool_name": "echo", "parameters": {"value": "$<a.output>"}, "dependencies": []},
    }
    result = validate_plan({"tasks": tasks}, demo_tools)
    assert [p.code for p in result.errors] == [ErrorCode.CYCLE]


def test_handler_waiting_on_a_dependent_of_its_task_is_a_cycle(demo_tools: Catalog) -> None:
    # a fails -> h runs; h waits for b; b waits for a, which waits for h.
    tasks = {
        "a": {
            "tool_name": "echo",
            "parameters": {"value": 1},
            "dependencies": [],
            "error_handling": {"on_error": "h"},
        },
        "b": {"tool_name": "echo", "parameters": {"value": "$<a.output>"}, "dependencies": ["a"]},
        "h": {"tool_name": "echo", "parameters": {"value": 2}, "dependencies": ["b"]},
    }
    result = validate_plan({"tasks": tasks}, demo_tools)
    assert [p.code for p in result.errors] == [ErrorCode.CYCLE]


def test_deep_chain_validates_without_recursion(demo_tools: Catalog) -> None:
    n = 5_000
    tasks = {
        f"t{i}": {"tool_name": "echo", "parameters": {"value": i}, "dependencies": [f"t{i - 1}"] if i else []}
        for i in range(n)
    }
    tasks["t0"]["dependencies"] = [f"t{n - 1}"]
    result = validate_plan({"tasks": tasks}, demo_tools, Limits(max_tasks=n))
    [cycle] = result.errors
    assert cycle.code == ErrorCode.CYCLE and len(cycle.detail["cycle"]) == n


class TestHandlers:
    def test_handler_of_two_tasks_is_invalid(self, demo_tools: Catalog) -> None:
        tasks = {
            "a": {
                "tool_name": "echo",
                "parameters": {"value": 1},
                "dependencies": [],
                "error_handling": {"on_error": "h"},
            },
            "b": {
                "tool_name": "echo",
                "parameters": {"value": 1},
                "dependencies": [],
                "error_handling": {"on_error": "h"},
            },
            "h": {"tool_name": "echo", "parameters": {"value": 2}, "dependencies": []},
        }
        result = validate_plan({"tasks": tasks}, demo_tools)
        assert codes(result) == [(ErrorCode.INVALID_HANDLER, "/tasks/b/error_handling/on_error")]

    def test_handler_depending_on_its_task_is_invalid(self, demo_tools: Catalog) -> None:
        tasks = {
            "a": {
                "tool_name": "echo",
                "parameters": {"value": 1},
                "dependencies": [],
                "error_handling": {"on_error": "h"},
            },
            "h": {"tool_name": "echo", "parameters": {"value": 2}, "dependencies": ["a"]},
        }
        result = validate_plan({"tasks": tasks}, demo_tools)
        assert codes(result) == [(ErrorCode.INVALID_HANDLER, "/tasks/h/dependencies")]

    def test_handler_reading_its_tasks_output_is_invalid(self, demo_tools: Catalog) -> None:
        tasks = {
            "a": {
                "tool_name": "echo",
                "parameters": {"value": 1},
                "dependencies": [],
                "error_handling": {"on_error": "h"},
            },
            "h": {"tool_name": "echo", "parameters": {"value": "$<a.output>"}, "dependencies": []},
        }
        result = validate_plan({"tasks": tasks}, demo_tools)
        assert codes(result) == [(ErrorCode.INVALID_HANDLER, "/tasks/h/parameters/value")]

    def test_depending_on_a_handler_is_invalid(self, demo_tools: Catalog) -> None:
        tasks = {
            "a": {
                "tool_name": "echo",
                "parameters": {"value": 1},
                "dependencies": [],
                "error_handling": {"on_error": "h"},
            },
            "h": {"tool_name": "echo", "parameters": {"value": 2}, "dependencies": []},
            "b": {"tool_name": "echo", "parameters": {"value": 3}, "dependencies": ["h"]},
        }
        result = validate_plan({"tasks": tasks}, demo_tools)
        assert codes(result) == [(ErrorCode.INVALID_HANDLER, "/tasks/b/dependencies")]

    def test_error_reference_outside_the_handler_is_invalid(self, demo_tools: Catalog) -> None:
        tasks = {
            "a": {"tool_name": "echo", "parameters": {"value": 1}, "dependencies": []},
            "b": {"tool_name": "echo", "parameters": {"value": "$<a.error>"}, "dependencies": []},
        }
        result = validate_plan({"tasks": tasks}, demo_tools)
        assert codes(result) == [(ErrorCode.INVALID_REFERENCE, "/tasks/b/parameters/value")]


class TestArguments:
    def test_missing_required_argument(self, demo_tools: Catalog) -> None:
        document = {"tasks": {"a": {"tool_name": "add", "parameters": {"a": 1}, "dependencies": []}}}
        [problem] = validate_plan(document, demo_tools).errors
        assert (problem.code, problem.detail["validator"]) == (ErrorCode.INVALID_ARGUMENTS, "required")

    def test_whole_reference_satisfies_a_required_argument(self, demo_tools: Catalog) -> None:
        document = {
            "tasks": {
                "a": {"tool_name": "add", "parameters": {"a": 1, "b": 2}, "dependencies": []},
                "b": {
                    "tool_name": "add",
                    "parameters": {"a": "$<a.output.result>", "b": 1},
                    "dependencies": ["a"],
                },
            }
        }
        assert validate_plan(document, demo_tools).valid

    def test_interpolated_string_where_a_number_is_expected_is_invalid(self, demo_tools: Catalog) -> None:
        document = {
            "tasks": {
                "a": {"tool_name": "add", "parameters": {"a": 1, "b": 2}, "dependencies": []},
                "b": {
                    "tool_name": "add",
                    "parameters": {"a": "n=$<a.output.result>", "b": 1},
                    "dependencies": ["a"],
                },
            }
        }
        assert codes(validate_plan(document, demo_tools)) == [
            (ErrorCode.INVALID_ARGUMENTS, "/tasks/b/parameters/a")
        ]

    def test_reference_type_is_checked_against_the_source_output_schema(self, demo_tools: Catalog) -> None:
        document = {
            "tasks": {
                "s": {"tool_name": "concat", "parameters": {"parts": ["a", "b"]}, "dependencies": []},
                "b": {
                    "tool_name": "add",
                    "parameters": {"a": "$<s.output.result>", "b": 1},
                    "dependencies": ["s"],
                },
            }
        }
        [problem] = validate_plan(document, demo_tools).errors
        assert (problem.code, problem.path) == (ErrorCode.INVALID_ARGUMENTS, "/tasks/b/parameters/a")
        assert problem.detail["expected"] == ["number"] and problem.detail["got"] == ["string"]

    def test_reference_to_a_field_the_source_cannot_produce_is_invalid(self, demo_tools: Catalog) -> None:
        document = {
            "tasks": {
                "a": {"tool_name": "add", "parameters": {"a": 1, "b": 2}, "dependencies": []},
                "b": {"tool_name": "echo", "parameters": {"value": "$<a.output.sum>"}, "dependencies": ["a"]},
            }
        }
        assert codes(validate_plan(document, demo_tools)) == [
            (ErrorCode.INVALID_REFERENCE, "/tasks/b/parameters/value")
        ]

    def test_reference_into_a_recovered_task_is_not_typed(self, demo_tools: Catalog) -> None:
        # A recovered task's output is its handler's, which has another schema.
        document = {
            "tasks": {
                "s": {
                    "tool_name": "concat",
                    "parameters": {"parts": ["1"]},
                    "dependencies": [],
                    "error_handling": {"on_error": "h"},
                },
                "h": {"tool_name": "echo", "parameters": {"value": 1}, "dependencies": []},
                "b": {
                    "tool_name": "add",
                    "parameters": {"a": "$<s.output.anything>", "b": 1},
                    "dependencies": ["s"],
                },
            }
        }
        assert validate_plan(document, demo_tools).valid

    def test_compensation_tool_and_arguments_are_checked(self, demo_tools: Catalog) -> None:
        document = {
            "tasks": {
                "a": {
                    "tool_name": "ledger_write",
                    "parameters": {"key": "k", "value": 1},
                    "dependencies": [],
                    "compensation": {"tool_name": "ledger_delete", "parameters": {}},
                },
                "b": {
                    "tool_name": "ledger_write",
                    "parameters": {"key": "k", "value": 1},
                    "dependencies": [],
                    "compensation": {"tool_name": "undo_it", "parameters": {}},
                },
            }
        }
        assert sorted(codes(validate_plan(document, demo_tools))) == [
            (ErrorCode.INVALID_ARGUMENTS, "/tasks/a/compensation/parameters"),
            (ErrorCode.UNKNOWN_TOOL, "/tasks/b/compensation/tool_name"),
        ]


class _DenyingView(Catalog):
    def is_permitted(self, name: str) -> bool:
        return name != "fail"


def test_tool_the_caller_may_not_use_is_not_permitted() -> None:
    from planexec.registry import demo_source

    document = {"tasks": {"a": {"tool_name": "fail", "parameters": {"message": "x"}, "dependencies": []}}}
    result = validate_plan(document, _DenyingView([demo_source()]))
    assert codes(result) == [(ErrorCode.TOOL_NOT_PERMITTED, "/tasks/a/tool_name")]


def test_without_a_registry_tool_checks_are_skipped() -> None:
    document = {"tasks": {"a": {"tool_name": "anything", "parameters": {"x": 1}, "dependencies": []}}}
    assert validate_plan(document).valid


def test_broken_tool_schema_does_not_crash_validation() -> None:
    class Broken:
        name = "broken"

        def specs(self) -> list[ToolSpec]:
            return [ToolSpec(name="odd", input_schema={"type": 12})]

        async def call(self, name: str, arguments: Any, meta: Any) -> Any:
            raise AssertionError

    document = {"tasks": {"a": {"tool_name": "odd", "parameters": {"x": 1}, "dependencies": []}}}
    assert validate_plan(document, Catalog([Broken()])).valid


class TestLimits:
    def test_too_many_tasks(self, demo_tools: Catalog) -> None:
        tasks = {
            f"t{i}": {"tool_name": "echo", "parameters": {"value": i}, "dependencies": []} for i in range(11)
        }
        result = validate_plan({"tasks": tasks}, demo_tools, Limits(max_tasks=10))
        assert codes(result) == [(ErrorCode.PLAN_TOO_LARGE, "/tasks")]
        assert result.errors[0].detail == {"tasks": 11, "limit_tasks": 10}

    def test_too_many_bytes(self, demo_tools: Catalog) -> None:
        document = {
            "tasks": {"a": {"tool_name": "echo", "parameters": {"value": "x" * 2000}, "dependencies": []}}
        }
        assert codes(validate_plan(document, demo_tools, Limits(max_bytes=1000))) == [
            (ErrorCode.PLAN_TOO_LARGE, "")
        ]

    def test_too_deep_data_is_refused_without_recursion(self, demo_tools: Catalog) -> None:
        value: Any = 1
        for _ in range(10_000):
            value = [value]
        document = {"tasks": {"a": {"tool_name": "echo", "parameters": {"value": value}, "dependencies": []}}}
        assert codes(validate_plan(document, demo_tools)) == [(ErrorCode.PLAN_TOO_LARGE, "")]

    def test_depth_within_the_limit_is_accepted(self, demo_tools: Catalog) -> None:
        value: Any = 1
        for _ in range(50):
            value = [value]
        document = {"tasks": {"a": {"tool_name": "echo", "parameters": {"value": value}, "dependencies": []}}}
        assert validate_plan(document, demo_tools).valid


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (b'{"tasks": {', ErrorCode.INVALID_JSON),
        (b"\x00\x01\x02garbage", ErrorCode.INVALID_JSON),
        (b"\xff\xfe\xfa", ErrorCode.INVALID_JSON),
        (b"", ErrorCode.INVALID_JSON),
        (b'{"tasks": {}, "tasks": {}}', ErrorCode.INVALID_JSON),
        (b'{"tasks": NaN}', ErrorCode.INVALID_JSON),
        (b"tasks: [unclosed", ErrorCode.INVALID_JSON),
        (b"[" * 100 + b"]" * 100, ErrorCode.PLAN_TOO_LARGE),
    ],
    ids=["truncated", "binary", "not-utf8", "empty", "duplicate-key", "nan", "bad-yaml", "deep"],
)
def test_bad_text_gives_one_structured_error(text: bytes, code: ErrorCode) -> None:
    result = validate_plan(text)
    assert [p.code for p in result.errors] == [code]
