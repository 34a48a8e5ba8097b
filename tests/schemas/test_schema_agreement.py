"""plan.schema.json and the PlanObject models must give the same verdict on every document.

The planner lets pydantic decide and jsonschema explain, so a document one accepts and the
other rejects is a bug: either a valid plan refused, or a refusal with nothing to report.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from planexec.schemas import OnFailure, PlanObject, plan_json_schema

PLAN_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
VALIDATOR = jsonschema.Draft202012Validator(plan_json_schema())


def task(**fields: Any) -> dict[str, Any]:
    """A valid task; ``fields`` override (a value of ``DROP`` removes the field)."""
    out: dict[str, Any] = {"tool_name": "echo", "parameters": {}, "dependencies": []}
    for key, value in fields.items():
        if value is DROP:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def plan(tasks: Any = None, **fields: Any) -> dict[str, Any]:
    """A valid plan with one task ``a``; ``fields`` override (``DROP`` removes)."""
    out: dict[str, Any] = {"tasks": {"a": task()} if tasks is None else tasks}
    for key, value in fields.items():
        if value is DROP:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def with_retry(**retry: Any) -> dict[str, Any]:
    return plan({"a": task(retry=retry)})


DROP = object()

DESIGN_EXAMPLE: dict[str, Any] = {
    "plan_id": PLAN_ID,
    "goal": "Summarise Q3 sales and mail the summary to my manager",
    "inputs": {"quarter": "2026-Q3"},
    "max_concurrency": 8,
    "timeout_s": 120,
    "on_failure": "abort",
    "tasks": {
        "fetch": {
            "tool_name": "sales_query",
            "description": "Q3 rows",
            "parameters": {"quarter": "$<inputs.quarter>"},
            "dependencies": [],
            "timeout_s": 30,
            "retry": {"max_attempts": 3, "initial_delay_s": 0.5, "backoff": 2.0, "max_delay_s": 10},
            "error_handling": {"on_error": "fetch_cache"},
        },
        "fetch_cache": {
            "tool_name": "sales_cache_read",
            "parameters": {"quarter": "$<inputs.quarter>"},
            "dependencies": [],
        },
        "summary": {
            "tool_name": "summarize",
            "parameters": {"rows": "$<fetch.output.rows>", "title": "Sales for $<inputs.quarter>"},
            "dependencies": ["fetch"],
        },
        "mail": {
            "tool_name": "send_email",
            "parameters": {"to": "boss@example.com", "body": "$<summary.output>"},
            "dependencies": ["summary"],
            "compensation": {"tool_name": "recall_email", "parameters": {"id": "$<mail.output.message_id>"}},
        },
    },
    "output": "$<mail.output>",
}

ALL_NULLABLE_NULL = plan(
    {
        "a": task(
            timeout_s=None,
            retry=None,
            error_handling=None,
            compensation=None,
        ),
        "b": task(
            error_handling={"on_error": None},
            compensation={"tool_name": "undo", "timeout_s": None},
        ),
    },
    max_concurrency=None,
    timeout_s=None,
    output=None,
)

# (name, document, valid): each document goes through both validators.
CORPUS: list[tuple[str, Any, bool]] = [
    # --- valid -------------------------------------------------------------------------
    ("minimal", plan(), True),
    ("design_example", DESIGN_EXAMPLE, True),
    ("nullable_fields_null", ALL_NULLABLE_NULL, True),
    ("output_any_json", plan(output={"x": ["$<a.output>", 1, None, True]}), True),
    ("output_false", plan(output=False), True),
    ("integral_float_is_an_integer", plan(max_concurrency=3.0, version=1.0), True),
    ("integral_float_max_attempts", with_retry(max_attempts=3.0), True),
    ("integer_where_number_expected", plan(timeout_s=5), True),
    ("float_timeout", plan({"a": task(timeout_s=0.001)}), True),
    ("timeout_at_max", plan(timeout_s=86400), True),
    ("task_id_64_chars", plan({"a" * 64: task()}), True),
    ("task_id_dash_underscore", plan({"_a-b_9": task()}), True),
    ("task_id_inputs_prefix", plan({"inputs2": task(), "my_inputs": task()}), True),
    ("tool_name_64_chars", plan({"a": task(tool_name="t" * 64)}), True),
    ("tool_name_leading_digit_and_dash", plan({"a": task(tool_name="1-tool_x")}), True),
    ("on_failure_abort", plan(on_failure="abort"), True),
    ("on_failure_continue", plan(on_failure="continue"), True),
    ("plan_id_upper_hex", plan(plan_id=PLAN_ID.upper()), True),
    ("version_1", plan(version=1), True),
    ("retry_empty", with_retry(), True),
    ("retry_lower_bounds", with_retry(max_attempts=1, initial_delay_s=0, backoff=1, max_delay_s=0), True),
    (
        "retry_upper_bounds",
        with_retry(max_attempts=100, initial_delay_s=3600, backoff=10, max_delay_s=3600),
        True,
    ),
    ("retry_jitter_false", with_retry(jitter=False), True),
    ("max_concurrency_bounds", plan(max_concurrency=10000), True),
    ("compensation_tool_only", plan({"a": task(compensation={"tool_name": "undo"})}), True),
    ("error_handling_empty", plan({"a": task(error_handling={})}), True),
    ("dependency_on_unknown_task_is_schema_valid", plan({"a": task(dependencies=["zzz"])}), True),
    ("duplicate_dependencies", plan({"a": task(), "b": task(dependencies=["a", "a"])}), True),
    ("metadata_and_inputs_any", plan(metadata={"x": [1, {"y": None}]}, inputs={"k": [None]}), True),
    ("empty_goal_and_description", plan({"a": task(description="")}, goal=""), True),
    ("retry_after_timeout", plan({"a": task(retry_after_timeout=True)}), True),
    # --- invalid: document shape ---------------------------------------------------------
    ("not_an_object_list", [plan()], False),
    ("not_an_object_string", "tasks", False),
    ("not_an_object_null", None, False),
    ("empty_object", {}, False),
    ("missing_tasks", {"goal": "x", "plan_id": PLAN_ID}, False),
    ("empty_tasks", plan({}), False),
    ("tasks_is_a_list", plan([task()]), False),
    ("tasks_null", {"tasks": None}, False),
    ("task_is_not_an_object", plan({"a": "echo"}), False),
    ("task_is_null", plan({"a": None}), False),
    # --- invalid: extra fields at each level -------------------------------------------
    ("extra_top_level_field", plan(steps=[]), False),
    ("extra_task_field", plan({"a": task(tool="echo")}), False),
    ("extra_retry_field", with_retry(max_retries=3), False),
    ("extra_error_handling_field", plan({"a": task(error_handling={"on_error": None, "x": 1})}), False),
    (
        "extra_compensation_field",
        plan({"a": task(compensation={"tool_name": "u", "dependencies": []})}),
        False,
    ),
    # --- invalid: required task fields ---------------------------------------------------
    ("task_missing_tool_name", plan({"a": task(tool_name=DROP)}), False),
    ("task_missing_parameters", plan({"a": task(parameters=DROP)}), False),
    ("task_missing_dependencies", plan({"a": task(dependencies=DROP)}), False),
    # --- invalid: task ids ---------------------------------------------------------------
    ("task_id_inputs_reserved", plan({"inputs": task()}), False),
    ("task_id_65_chars", plan({"a" * 65: task()}), False),
    ("task_id_leading_digit", plan({"1a": task()}), False),
    ("task_id_leading_dash", plan({"-a": task()}), False),
    ("task_id_empty", plan({"": task()}), False),
    ("task_id_with_dot", plan({"a.b": task()}), False),
    ("task_id_with_space", plan({"a b": task()}), False),
    ("task_id_non_ascii", plan({"tâche": task()}), False),
    ("task_id_trailing_newline", plan({"a\n": task()}), False),
    ("dependency_inputs_reserved", plan({"a": task(dependencies=["inputs"])}), False),
    ("dependency_bad_pattern", plan({"a": task(dependencies=["not valid"])}), False),
    ("dependency_not_a_string", plan({"a": task(dependencies=[1])}), False),
    ("dependencies_not_a_list", plan({"a": task(dependencies="b")}), False),
    ("dependencies_null", plan({"a": task(dependencies=None)}), False),
    ("on_error_reserved_id", plan({"a": task(error_handling={"on_error": "inputs"})}), False),
    ("on_error_bad_id", plan({"a": task(error_handling={"on_error": "1x"})}), False),
    ("error_handling_is_a_string", plan({"a": task(error_handling="b")}), False),
    # --- invalid: tool names -------------------------------------------------------------
    ("tool_name_empty", plan({"a": task(tool_name="")}), False),
    ("tool_name_65_chars", plan({"a": task(tool_name="t" * 65)}), False),
    ("tool_name_with_dot", plan({"a": task(tool_name="mail.send")}), False),
    ("tool_name_with_slash", plan({"a": task(tool_name="srv/tool")}), False),
    ("tool_name_trailing_newline", plan({"a": task(tool_name="echo\n")}), False),
    ("tool_name_not_a_string", plan({"a": task(tool_name=7)}), False),
    ("tool_name_null", plan({"a": task(tool_name=None)}), False),
    # --- invalid: retry bounds and types --------------------------------------------------
    ("retry_max_attempts_0", with_retry(max_attempts=0), False),
    ("retry_max_attempts_101", with_retry(max_attempts=101), False),
    ("retry_max_attempts_fractional", with_retry(max_attempts=3.5), False),
    ("retry_max_attempts_bool", with_retry(max_attempts=True), False),
    ("retry_max_attempts_string", with_retry(max_attempts="3"), False),
    ("retry_max_attempts_null", with_retry(max_attempts=None), False),
    ("retry_backoff_below_1", with_retry(backoff=0.5), False),
    ("retry_backoff_above_10", with_retry(backoff=11), False),
    ("retry_backoff_string", with_retry(backoff="exponential"), False),
    ("retry_initial_delay_negative", with_retry(initial_delay_s=-0.1), False),
    ("retry_max_delay_above_3600", with_retry(max_delay_s=3601), False),
    ("retry_jitter_int", with_retry(jitter=1), False),
    ("retry_jitter_string", with_retry(jitter="yes"), False),
    ("retry_is_a_number", plan({"a": task(retry=3)}), False),
    # --- invalid: numbers ----------------------------------------------------------------
    ("max_concurrency_0", plan(max_concurrency=0), False),
    ("max_concurrency_10001", plan(max_concurrency=10001), False),
    ("max_concurrency_fractional", plan(max_concurrency=2.5), False),
    ("max_concurrency_bool", plan(max_concurrency=True), False),
    ("max_concurrency_string", plan(max_concurrency="4"), False),
    ("max_concurrency_huge_float", plan(max_concurrency=1e20), False),
    ("version_2", plan(version=2), False),
    ("version_0", plan(version=0), False),
    ("version_string", plan(version="1"), False),
    ("version_bool", plan(version=True), False),
    ("version_null", plan(version=None), False),
    ("timeout_zero_is_exclusive", plan(timeout_s=0), False),
    ("timeout_negative", plan(timeout_s=-1), False),
    ("timeout_above_a_day", plan(timeout_s=86400.5), False),
    ("timeout_bool", plan(timeout_s=True), False),
    ("timeout_string", plan(timeout_s="30"), False),
    ("task_timeout_zero", plan({"a": task(timeout_s=0)}), False),
    ("task_timeout_bool", plan({"a": task(timeout_s=False)}), False),
    ("compensation_timeout_zero", plan({"a": task(compensation={"tool_name": "u", "timeout_s": 0})}), False),
    # --- invalid: null where not allowed and wrong types ---------------------------------
    ("goal_null", plan(goal=None), False),
    ("goal_not_a_string", plan(goal=1), False),
    ("inputs_null", plan(inputs=None), False),
    ("inputs_list", plan(inputs=["q"]), False),
    ("metadata_null", plan(metadata=None), False),
    ("metadata_string", plan(metadata="x"), False),
    ("parameters_null", plan({"a": task(parameters=None)}), False),
    ("parameters_list", plan({"a": task(parameters=[1])}), False),
    ("description_null", plan({"a": task(description=None)}), False),
    ("description_not_a_string", plan({"a": task(description=1)}), False),
    ("retry_after_timeout_null", plan({"a": task(retry_after_timeout=None)}), False),
    ("retry_after_timeout_string", plan({"a": task(retry_after_timeout="true")}), False),
    # --- invalid: plan_id ----------------------------------------------------------------
    ("plan_id_not_a_uuid", plan(plan_id="plan-uuid"), False),
    ("plan_id_without_dashes", plan(plan_id=PLAN_ID.replace("-", "")), False),
    ("plan_id_in_braces", plan(plan_id="{" + PLAN_ID + "}"), False),
    ("plan_id_trailing_newline", plan(plan_id=PLAN_ID + "\n"), False),
    ("plan_id_integer", plan(plan_id=1), False),
    ("plan_id_null", plan(plan_id=None), False),
    # --- invalid: on_failure --------------------------------------------------------------
    ("on_failure_upper_case", plan(on_failure="ABORT"), False),
    ("on_failure_unknown", plan(on_failure="retry"), False),
    ("on_failure_null", plan(on_failure=None), False),
    ("on_failure_bool", plan(on_failure=True), False),
    # --- invalid: compensation -----------------------------------------------------------
    ("compensation_without_tool_name", plan({"a": task(compensation={"parameters": {}})}), False),
    ("compensation_bad_tool_name", plan({"a": task(compensation={"tool_name": "a b"})}), False),
    ("compensation_is_a_string", plan({"a": task(compensation="undo")}), False),
    (
        "compensation_parameters_null",
        plan({"a": task(compensation={"tool_name": "u", "parameters": None})}),
        False,
    ),
]


def schema_verdict(document: Any) -> bool:
    return bool(VALIDATOR.is_valid(document))


def model_verdict(document: Any) -> bool:
    try:
        PlanObject.model_validate(document)
    except ValidationError:
        return False
    return True


def model_json_verdict(document: Any) -> bool:
    try:
        PlanObject.model_validate_json(json.dumps(document))
    except ValidationError:
        return False
    return True


def test_corpus_is_large_and_uniquely_named() -> None:
    names = [name for name, _, _ in CORPUS]
    assert len(names) == len(set(names))
    assert len(CORPUS) >= 40
    assert {valid for _, _, valid in CORPUS} == {True, False}


@pytest.mark.parametrize(("document", "valid"), [pytest.param(d, v, id=n) for n, d, v in CORPUS])
def test_schema_and_models_agree_on_corpus(document: Any, valid: bool) -> None:
    snapshot = copy.deepcopy(document)
    assert (schema_verdict(document), model_verdict(document), model_json_verdict(document)) == (
        valid,
        valid,
        valid,
    )
    assert document == snapshot  # validation never changes the document


def test_schema_file_is_valid_against_the_2020_12_metaschema() -> None:
    schema = plan_json_schema()
    assert jsonschema.validators.validator_for(schema) is jsonschema.Draft202012Validator
    jsonschema.Draft202012Validator.check_schema(schema)
    # check_schema ignores "format"; the metaschema marks every pattern "format": "regex".
    meta = jsonschema.Draft202012Validator(
        jsonschema.Draft202012Validator.META_SCHEMA,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    assert list(meta.iter_errors(schema)) == []


def test_plan_json_schema_returns_a_fresh_copy() -> None:
    first = plan_json_schema()
    first["properties"].clear()
    assert plan_json_schema()["properties"] != {}


@pytest.mark.parametrize(("document", "valid"), [pytest.param(d, v, id=n) for n, d, v in CORPUS if v])
def test_canonical_json_of_a_valid_plan_is_schema_valid_and_round_trips(document: Any, valid: bool) -> None:
    model = PlanObject.model_validate(document)
    canonical = model.to_json()
    assert schema_verdict(canonical)
    assert PlanObject.model_validate(canonical) == model
    assert json.loads(json.dumps(canonical)) == canonical


def test_on_failure_string_becomes_the_enum_member() -> None:
    model = PlanObject.model_validate(plan(on_failure="continue"))
    assert model.on_failure is OnFailure.CONTINUE
    assert PlanObject.model_validate(plan()).on_failure is OnFailure.ABORT


def test_integral_float_is_stored_as_int() -> None:
    model = PlanObject.model_validate(plan({"a": task(retry={"max_attempts": 4.0})}, max_concurrency=3.0))
    assert model.max_concurrency == 3 and type(model.max_concurrency) is int
    retry = model.tasks["a"].retry
    assert retry is not None and type(retry.max_attempts) is int


def test_absent_plan_id_is_assigned_a_uuid() -> None:
    first = PlanObject.model_validate(plan())
    second = PlanObject.model_validate(plan())
    assert first.plan_id != second.plan_id
    assert schema_verdict(first.to_json())


def test_tasks_keep_submitted_order() -> None:
    ids = ["z", "a", "m", "b"]
    model = PlanObject.model_validate(plan({i: task() for i in ids}))
    assert list(model.tasks) == ids


# --- property: random mutations of valid plans ----------------------------------------

_FIELD_NAMES = sorted(
    {
        *plan_json_schema()["properties"],
        *plan_json_schema()["$defs"]["Task"]["properties"],
        *plan_json_schema()["$defs"]["RetryPolicy"]["properties"],
        "on_error",
    }
)

# Values near the edges the schema draws, so mutations land on both sides of them.
_EDGE_VALUES = st.sampled_from(
    [
        0,
        1,
        2,
        3.0,
        3.5,
        -1,
        10,
        11,
        100,
        101,
        3600,
        3601,
        10000,
        10001,
        86400,
        86401,
        1e20,
        True,
        False,
        None,
        "",
        "a",
        "inputs",
        "1a",
        "a" * 64,
        "a" * 65,
        "echo\n",
        "a.b",
        "abort",
        "continue",
        "ABORT",
        PLAN_ID,
        PLAN_ID.upper(),
        "plan-uuid",
        "$<a.output>",
        [],
        {},
        ["a"],
        ["inputs"],
        {"on_error": None},
        {"tool_name": "undo"},
        {"max_attempts": 2},
    ]
).map(copy.deepcopy)  # the lists and dicts above are shared: mutations must not reach them
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | _EDGE_VALUES
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
_KEYS = st.sampled_from(_FIELD_NAMES) | st.text(max_size=8) | st.sampled_from(["a", "b", "inputs", "a\n"])

_BASES = [plan(), DESIGN_EXAMPLE, ALL_NULLABLE_NULL]


def _near(value: Any) -> st.SearchStrategy[Any]:
    """Values close to ``value``: the likeliest places for two validators to part ways."""
    if isinstance(value, bool):
        return st.sampled_from([not value, int(value), None])
    if isinstance(value, int | float):
        return st.sampled_from([value + 1, value - 1, -value, float(value), value + 0.5, value * 1000, True])
    if isinstance(value, str):
        return st.sampled_from(
            [value + "\n", "\n" + value, value + " ", value * 2, value.upper(), value[1:], value + "é", ""]
        )
    if isinstance(value, list):
        return st.sampled_from([[], [*value, value[0] if value else "x"], [*value, None]])
    if isinstance(value, dict):
        return st.sampled_from([{}, [value], None])
    return _SCALARS


def _objects(document: Any) -> Iterator[dict[str, Any]]:
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


@st.composite
def mutated_plans(draw: st.DrawFn) -> dict[str, Any]:
    document = copy.deepcopy(draw(st.sampled_from(_BASES)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        target = draw(st.sampled_from(list(_objects(document))))
        operation = draw(st.sampled_from(["drop", "replace", "add", "add_task"]))
        if operation in ("drop", "replace") and target:
            key = draw(st.sampled_from(sorted(target)))
            if operation == "drop":
                del target[key]
            else:
                target[key] = draw(_near(target[key]) | _JSON)
        elif operation == "add_task" and isinstance(document.get("tasks"), dict):
            document["tasks"][draw(_KEYS)] = task(**{draw(st.sampled_from(_FIELD_NAMES)): draw(_JSON)})
        else:
            target[draw(_KEYS)] = draw(_JSON)
    if draw(st.booleans()) and isinstance(document.get("tasks"), dict) and document["tasks"]:
        # Rename a task: ids are map keys, which the other mutations seldom reach.
        tasks = document["tasks"]
        old = draw(st.sampled_from(sorted(tasks)))
        tasks[draw(_near(old) | _KEYS)] = tasks.pop(old)
    return document


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_plans())
def test_schema_and_models_agree_on_mutated_plans(document: dict[str, Any]) -> None:
    assert schema_verdict(document) == model_verdict(document) == model_json_verdict(document)
