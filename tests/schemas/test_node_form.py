"""convert_node_form: the seeds' YAML node form becomes the canonical PlanObject."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from planexec.schemas import (
    ErrorCode,
    PlanObject,
    Problem,
    WarningCode,
    convert_node_form,
    is_node_form,
    normalize_references,
)

# The seeds' example, as written there (placeholder metadata.id included).
SEED_YAML = """
PlanSpecification:
  version: "1.0.0"
  metadata:
    id: "plan-uuid"
    created_at: "2024-01-15T10:30:00Z"
    planner_version: "2.1.0"

  nodes:
    - id: "extract-data"
      type: "tool_execution"
      tool: "data_extractor"
      parameters:
        source: "${input.data_source}"
        format: "json"
      timeout: 30
      retry:
        max_attempts: 3
        backoff: "exponential"

    - id: "parallel-analysis"
      type: "parallel_group"
      children:
        - id: "sentiment-analysis"
          tool: "sentiment_analyzer"
          parameters:
            input: "${extract-data.output}"

        - id: "entity-extraction"
          tool: "entity_extractor"
          parameters:
            input: "${extract-data.output}"

    - id: "aggregate-results"
      type: "tool_execution"
      tool: "result_aggregator"
      dependencies: ["parallel-analysis"]
      parameters:
        sentiment: "${sentiment-analysis.output}"
        entities: "${entity-extraction.output}"

  error_handlers:
    - trigger: "node_failure"
      node_pattern: "*-analysis"
      action:
        type: "compensate"
        handler: "fallback_analyzer"

  edges:
    - from: "extract-data"
      to: "parallel-analysis"
      condition: "extract-data.status == 'success'"

    - from: "parallel-analysis"
      to: "aggregate-results"
      condition: "all_children_complete"
"""

SEED_TASKS: dict[str, Any] = {
    "extract-data": {
        "tool_name": "data_extractor",
        "parameters": {"source": "${input.data_source}", "format": "json"},
        "dependencies": [],
        "timeout_s": 30,
        "retry": {"max_attempts": 3, "backoff": 2.0},
    },
    "sentiment-analysis": {
        "tool_name": "sentiment_analyzer",
        "parameters": {"input": "${extract-data.output}"},
        "dependencies": ["extract-data"],
        "error_handling": {"on_error": "sentiment-analysis__on_error"},
    },
    "entity-extraction": {
        "tool_name": "entity_extractor",
        "parameters": {"input": "${extract-data.output}"},
        "dependencies": ["extract-data"],
    },
    "aggregate-results": {
        "tool_name": "result_aggregator",
        "parameters": {
            "sentiment": "${sentiment-analysis.output}",
            "entities": "${entity-extraction.output}",
        },
        "dependencies": ["sentiment-analysis", "entity-extraction"],
    },
    # "*-analysis" matches sentiment-analysis only: parallel-analysis is a group, not a task.
    "sentiment-analysis__on_error": {
        "tool_name": "fallback_analyzer",
        "description": "error handler of sentiment-analysis",
        "parameters": {"input": "${extract-data.output}"},
        "dependencies": ["extract-data"],
    },
}

UUID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def seed() -> dict[str, Any]:
    document = yaml.safe_load(SEED_YAML)
    assert isinstance(document, dict)
    return document


def convert(document: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    plan, errors, warnings = convert_node_form(document)
    assert [w.code for w in warnings] == [WarningCode.CONVERTED_FORMAT]
    return plan, errors


def codes(errors: list[Problem]) -> list[tuple[str, str]]:
    return [(e.code, e.path) for e in errors]


def node(node_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "tool": "echo", **fields}


# --- the seed example ---------------------------------------------------------------------


def test_seed_example_converts_to_the_expected_canonical_tasks() -> None:
    document = seed()
    assert is_node_form(document)
    plan, errors = convert(document)
    assert errors == []
    assert plan["tasks"] == SEED_TASKS
    assert list(plan["tasks"]) == list(SEED_TASKS)  # document order, groups flattened in place
    assert "plan_id" not in plan  # "plan-uuid" is a placeholder
    assert plan["metadata"] == {
        "id": "plan-uuid",
        "created_at": "2024-01-15T10:30:00Z",
        "planner_version": "2.1.0",
    }
    assert set(plan) == {"tasks", "metadata"}


def test_seed_example_is_a_valid_plan_once_references_are_normalized() -> None:
    plan, _ = convert(seed())
    warnings = normalize_references(plan, set(plan["tasks"]))
    assert {w.code for w in warnings} == {WarningCode.NORMALIZED_REFERENCE}
    assert len(warnings) == 6  # one per rewritten value, the handler's copy included
    model = PlanObject.model_validate(plan)
    assert model.tasks["extract-data"].parameters["source"] == "$<inputs.data_source>"
    assert model.tasks["aggregate-results"].parameters["entities"] == "$<entity-extraction.output>"
    assert model.tasks["sentiment-analysis"].on_error == "sentiment-analysis__on_error"


def test_conversion_neither_mutates_nor_shares_the_source_document() -> None:
    document = seed()
    before = copy.deepcopy(document)
    plan, _ = convert(document)
    normalize_references(plan, set(plan["tasks"]))
    plan["metadata"]["id"] = "changed"
    assert document == before


def test_yaml_aliases_become_independent_parameters() -> None:
    document = yaml.safe_load(
        """
        nodes:
          - {id: a, tool: echo, parameters: &shared {value: "${inputs.x}"}}
          - {id: b, tool: echo, parameters: *shared}
        """
    )
    plan, errors = convert(document)
    assert errors == []
    assert plan["tasks"]["a"]["parameters"] is not plan["tasks"]["b"]["parameters"]
    warnings = normalize_references(plan, set(plan["tasks"]))
    assert [w.path for w in warnings] == ["/tasks/a/parameters/value", "/tasks/b/parameters/value"]


# --- groups and dependencies ----------------------------------------------------------------


def test_group_children_inherit_the_group_dependencies() -> None:
    plan, errors = convert(
        {
            "nodes": [
                node("first"),
                {
                    "id": "g",
                    "type": "parallel_group",
                    "dependencies": ["first"],
                    "children": [node("x"), node("y")],
                },
            ]
        }
    )
    assert errors == []
    assert plan["tasks"]["x"]["dependencies"] == ["first"]
    assert plan["tasks"]["y"]["dependencies"] == ["first"]
    assert "g" not in plan["tasks"]


def test_dependency_on_a_group_expands_to_its_members_recursively() -> None:
    plan, errors = convert(
        {
            "nodes": [
                {
                    "id": "outer",
                    "type": "parallel_group",
                    "children": [
                        node("a"),
                        {"id": "inner", "type": "parallel_group", "children": [node("b"), node("c")]},
                    ],
                },
                node("after", dependencies=["outer"]),
                node("after_inner", dependencies=["inner", "a"]),
            ]
        }
    )
    assert errors == []
    assert list(plan["tasks"]) == ["a", "b", "c", "after", "after_inner"]
    assert plan["tasks"]["after"]["dependencies"] == ["a", "b", "c"]
    assert plan["tasks"]["after_inner"]["dependencies"] == ["b", "c", "a"]


def test_group_depending_on_a_group() -> None:
    plan, errors = convert(
        {
            "nodes": [
                {"id": "g1", "children": [node("a"), node("b")]},
                {"id": "g2", "dependencies": ["g1"], "children": [node("c")]},
            ]
        }
    )
    assert errors == []
    assert plan["tasks"]["c"]["dependencies"] == ["a", "b"]


def test_edges_add_dependencies_between_groups_and_tasks() -> None:
    plan, errors = convert(
        {
            "nodes": [node("src"), {"id": "g", "children": [node("x"), node("y")]}, node("sink")],
            "edges": [
                {"from": "src", "to": "g"},
                {"from": "g", "to": "sink", "condition": "all_children_complete"},
                {"from": "src", "to": "sink", "condition": "src.status == success"},
                {"from": "src", "to": "x", "condition": 'src.status=="success"'},
            ],
        }
    )
    assert errors == []
    assert plan["tasks"]["x"]["dependencies"] == ["src"]
    assert plan["tasks"]["y"]["dependencies"] == ["src"]
    assert plan["tasks"]["sink"]["dependencies"] == ["x", "y", "src"]


def test_plan_level_fields_are_carried_over() -> None:
    plan, errors = convert(
        {
            "goal": "g",
            "inputs": {"q": 1},
            "on_failure": "continue",
            "max_concurrency": 2,
            "timeout_s": 60,
            "output": "${a}",
            "nodes": [node("a", description="d", timeout_s=5, retry_after_timeout=True)],
        }
    )
    assert errors == []
    assert {
        k: plan[k] for k in ("goal", "inputs", "on_failure", "max_concurrency", "timeout_s", "output")
    } == {
        "goal": "g",
        "inputs": {"q": 1},
        "on_failure": "continue",
        "max_concurrency": 2,
        "timeout_s": 60,
        "output": "${a}",
    }
    assert plan["tasks"]["a"] == {
        "tool_name": "echo",
        "parameters": {},
        "dependencies": [],
        "description": "d",
        "timeout_s": 5,
        "retry_after_timeout": True,
    }


@pytest.mark.parametrize(
    ("backoff", "factor"),
    [("exponential", 2.0), ("linear", 1.0), ("fixed", 1.0), ("Exponential", 2.0), (1.5, 1.5)],
)
def test_retry_backoff_words_become_factors(backoff: Any, factor: float) -> None:
    plan, errors = convert({"nodes": [node("a", retry={"max_attempts": 2, "backoff": backoff})]})
    assert errors == []
    assert plan["tasks"]["a"]["retry"] == {"max_attempts": 2, "backoff": factor}


# --- metadata.id -----------------------------------------------------------------------------


def test_uuid_metadata_id_becomes_the_plan_id() -> None:
    plan, _ = convert({"metadata": {"id": UUID}, "nodes": [node("a")]})
    assert plan["plan_id"] == UUID
    assert plan["metadata"] == {"id": UUID}


@pytest.mark.parametrize("placeholder", ["plan-uuid", "", 7, None, UUID + "x"])
def test_placeholder_metadata_id_is_not_a_plan_id(placeholder: Any) -> None:
    plan, _ = convert({"metadata": {"id": placeholder}, "nodes": [node("a")]})
    assert "plan_id" not in plan


# --- errors, with stable codes and paths ---------------------------------------------------


@pytest.mark.parametrize(
    "condition",
    [
        "extract-data.status == 'failed'",
        "other.status == 'success'",  # names a node that is not the edge's source
        "output.score > 0.5",
        "any_child_complete",
        True,
    ],
)
def test_non_default_edge_condition_is_an_error(condition: Any) -> None:
    document = seed()
    document["PlanSpecification"]["edges"][0]["condition"] = condition
    _, errors = convert(document)
    assert codes(errors) == [(ErrorCode.SCHEMA_VIOLATION, "/PlanSpecification/edges/0/condition")]


def test_unwrapped_form_paths_have_no_wrapper_prefix() -> None:
    _, errors = convert(
        {"nodes": [node("a"), node("b")], "edges": [{"from": "a", "to": "b", "condition": "a.score > 1"}]}
    )
    assert codes(errors) == [(ErrorCode.SCHEMA_VIOLATION, "/edges/0/condition")]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"nodes": [node("a", type="llm_call")]}, [(ErrorCode.SCHEMA_VIOLATION, "/nodes/0/type")]),
        ({"nodes": [node("a", when="x")]}, [(ErrorCode.SCHEMA_VIOLATION, "/nodes/0/when")]),
        (
            {"nodes": [node("a", zeta=1, alpha=2)]},
            [(ErrorCode.SCHEMA_VIOLATION, "/nodes/0/alpha"), (ErrorCode.SCHEMA_VIOLATION, "/nodes/0/zeta")],
        ),
        (
            {"nodes": [{"id": "g", "children": [node("a", type="decision")]}]},
            [(ErrorCode.SCHEMA_VIOLATION, "/nodes/0/children/0/type")],
        ),
        (
            {"nodes": [node("a", retry={"backoff": "fibonacci"})]},
            [(ErrorCode.SCHEMA_VIOLATION, "/nodes/0/retry/backoff")],
        ),
        ({"nodes": [node("a"), node("a")]}, [(ErrorCode.SCHEMA_VIOLATION, "/nodes/1/id")]),
        ({"nodes": [{"tool": "echo"}]}, [(ErrorCode.SCHEMA_VIOLATION, "/nodes/0")]),
        ({"nodes": ["a"]}, [(ErrorCode.SCHEMA_VIOLATION, "/nodes/0")]),
        ({"nodes": {"a": node("a")}}, [(ErrorCode.SCHEMA_VIOLATION, "/nodes")]),
        (
            {"nodes": [node("a", dependencies="b")]},
            [(ErrorCode.SCHEMA_VIOLATION, "/nodes/0/dependencies")],
        ),
        ({"nodes": [{"id": "g", "children": "a"}]}, [(ErrorCode.SCHEMA_VIOLATION, "/nodes/0/children")]),
        ({"nodes": [node("a")], "edges": {"a": "b"}}, [(ErrorCode.SCHEMA_VIOLATION, "/edges")]),
        ({"nodes": [node("a")], "edges": [{"from": "a"}]}, [(ErrorCode.SCHEMA_VIOLATION, "/edges/0")]),
        (
            {"nodes": [node("a")], "edges": [{"from": "a", "to": "nowhere"}]},
            [(ErrorCode.UNKNOWN_DEPENDENCY, "/edges/0/to")],
        ),
        (
            {"nodes": [node("a")], "error_handlers": [{"node_pattern": "a", "action": {"type": "retry"}}]},
            [(ErrorCode.SCHEMA_VIOLATION, "/error_handlers/0")],
        ),
        (
            {
                "nodes": [node("a")],
                "error_handlers": [{"trigger": "timeout", "node_pattern": "a", "action": {"handler": "h"}}],
            },
            [(ErrorCode.SCHEMA_VIOLATION, "/error_handlers/0/trigger")],
        ),
        ({"nodes": [node("a")], "error_handlers": "h"}, [(ErrorCode.SCHEMA_VIOLATION, "/error_handlers")]),
    ],
)
def test_conversion_errors_have_stable_codes_and_paths(
    document: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    _, errors = convert(document)
    assert codes(errors) == expected


def test_wrapped_form_prefixes_every_error_path() -> None:
    _, errors = convert({"PlanSpecification": {"nodes": [node("a", type="llm_call")]}})
    assert codes(errors) == [(ErrorCode.SCHEMA_VIOLATION, "/PlanSpecification/nodes/0/type")]


def test_missing_nodes_is_an_error_not_a_crash() -> None:
    _, errors = convert({"PlanSpecification": {"nodes": None}})
    assert codes(errors) == [(ErrorCode.SCHEMA_VIOLATION, "/PlanSpecification/nodes")]


# --- error handlers ----------------------------------------------------------------------------


def test_handler_naming_a_node_that_matches_several_tasks_is_invalid_handler() -> None:
    document = seed()
    document["PlanSpecification"]["nodes"].append(node("fallback"))
    document["PlanSpecification"]["nodes"][1]["children"].append(node("topic-analysis"))
    document["PlanSpecification"]["error_handlers"][0]["action"]["handler"] = "fallback"
    plan, errors = convert(document)
    assert codes(errors) == [(ErrorCode.INVALID_HANDLER, "/PlanSpecification/error_handlers/0/node_pattern")]
    assert all("error_handling" not in task for task in plan["tasks"].values())


def test_handler_naming_a_node_that_matches_one_task_handles_it() -> None:
    plan, errors = convert(
        {
            "nodes": [node("fetch"), node("fetch_cache")],
            "error_handlers": [{"node_pattern": "fetch*", "action": {"handler": "fetch_cache"}}],
        }
    )
    assert errors == []
    assert plan["tasks"]["fetch"]["error_handling"] == {"on_error": "fetch_cache"}
    assert "error_handling" not in plan["tasks"]["fetch_cache"]  # a handler does not handle itself
    assert list(plan["tasks"]) == ["fetch", "fetch_cache"]


def test_tool_handler_gives_each_matched_task_its_own_handler_task() -> None:
    plan, errors = convert(
        {
            "nodes": [node("a", dependencies=[]), node("b", dependencies=["a"]), node("c")],
            "error_handlers": [
                {
                    "node_pattern": "[ab]",
                    "action": {"handler": "notify", "parameters": {"msg": "$<inputs.m>"}},
                },
                {"node_pattern": "*", "action": {"handler": "log"}},
            ],
        }
    )
    assert errors == []
    tasks = plan["tasks"]
    assert tasks["a"]["error_handling"] == {"on_error": "a__on_error"}
    assert tasks["b"]["error_handling"] == {"on_error": "b__on_error"}
    assert tasks["b__on_error"] == {
        "tool_name": "notify",
        "description": "error handler of b",
        "parameters": {"msg": "$<inputs.m>"},
        "dependencies": ["a"],
    }
    assert tasks["a__on_error"]["parameters"] is not tasks["b__on_error"]["parameters"]
    # The catch-all comes second: it handles only "c" (first handler wins) and never a handler task.
    assert tasks["c"]["error_handling"] == {"on_error": "c__on_error"}
    assert tasks["c__on_error"]["tool_name"] == "log"
    assert not any(task_id.endswith("__on_error__on_error") for task_id in tasks)


def test_first_matching_handler_wins_and_leaves_no_orphan_handler_task() -> None:
    plan, errors = convert(
        {
            "nodes": [node("fetch"), node("fetch_cache")],
            "error_handlers": [
                {"node_pattern": "fetch", "action": {"handler": "log"}},
                {"node_pattern": "fetch", "action": {"handler": "fetch_cache"}},
            ],
        }
    )
    # The second handler now matches no task, and a node handler must match exactly one.
    assert codes(errors) == [(ErrorCode.INVALID_HANDLER, "/error_handlers/1/node_pattern")]
    assert plan["tasks"]["fetch"]["error_handling"] == {"on_error": "fetch__on_error"}
    named = {t["error_handling"]["on_error"] for t in plan["tasks"].values() if "error_handling" in t}
    generated = {t for t in plan["tasks"] if t.endswith("__on_error")}
    assert generated <= named


def test_node_error_handling_beats_pattern_handlers() -> None:
    plan, errors = convert(
        {
            "nodes": [node("a", error_handling={"on_error": "b"}), node("b")],
            "error_handlers": [{"node_pattern": "*", "action": {"handler": "log"}}],
        }
    )
    assert errors == []
    assert plan["tasks"]["a"]["error_handling"] == {"on_error": "b"}
    assert set(plan["tasks"]) == {"a", "b", "b__on_error"}


def test_handler_task_id_is_cut_to_64_characters() -> None:
    long_id = "t" * 60
    plan, errors = convert(
        {"nodes": [node(long_id)], "error_handlers": [{"node_pattern": "t*", "action": {"handler": "h"}}]}
    )
    assert errors == []
    (handler_id,) = [t for t in plan["tasks"] if t != long_id]
    assert len(handler_id) == 64
    assert plan["tasks"][long_id]["error_handling"] == {"on_error": handler_id}


# --- is_node_form ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"nodes": []}, True),
        ({"PlanSpecification": {"nodes": []}}, True),
        ({"tasks": {}, "nodes": []}, False),  # canonical wins
        ({"tasks": {}}, False),
        ({"PlanSpecification": "nodes"}, False),
        ({"PlanSpecification": {"tasks": {}}}, False),
        ([{"nodes": []}], False),
        ("nodes", False),
        (None, False),
    ],
)
def test_is_node_form(document: Any, expected: bool) -> None:
    assert is_node_form(document) is expected
