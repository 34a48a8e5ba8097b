"""The one mapping from internal errors to MCP answers: a table of (error, code), the
is_error result it makes, and the JSON-RPC error resources answer with."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, TextContent
from pydantic import BaseModel, ConfigDict, ValidationError

from planexec.executor import ReplayError
from planexec.planner import LLMError, PlanningFailed, PlanSourceError, validate_plan
from planexec.registry import ToolCallError, ToolErrorCode
from planexec.server._mcp_errors import (
    ErrorCode,
    InvalidPlan,
    PlannerNotConfigured,
    RequestTooLarge,
    RunNotRunning,
    ServerError,
    TooManyRuns,
    Unauthenticated,
    error_body,
    error_result,
    mcp_error,
)
from planexec.store import NotFound, StoreUnavailable


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str


def _validation_error() -> ValidationError:
    try:
        _Args.model_validate({"run": 1})
    except ValidationError as error:
        return error
    raise AssertionError("unreachable")


def _invalid_plan() -> InvalidPlan:
    return InvalidPlan(
        validate_plan({"tasks": {"a": {"tool_name": "x", "parameters": {}, "dependencies": ["a"]}}})
    )


def _planning_failed() -> PlanningFailed:
    return PlanningFailed(
        validate_plan({"tasks": {}}).errors,
        rounds=3,
        model="m",
        prompt_tokens=300,
        completion_tokens=60,
        latency_s=1.5,
    )


class _Bug(Exception):
    pass


TABLE: list[tuple[str, BaseException, str]] = [
    ("not-found", NotFound("run", "r1"), "not_found"),
    ("store-unavailable", StoreUnavailable("connection refused"), "store_unavailable"),
    ("plan-source", PlanSourceError("no such file"), "invalid_plan_source"),
    ("not-replayable", ReplayError("the run has not finished"), "not_replayable"),
    ("invalid-plan", _invalid_plan(), "invalid_plan"),
    ("bad-arguments", _validation_error(), "invalid_arguments"),
    ("too-many-runs", TooManyRuns("acme", 4), "too_many_runs"),
    ("run-over", RunNotRunning("r1", "succeeded"), "run_not_running"),
    ("request-too-large", RequestTooLarge(5000, 4096), "request_too_large"),
    ("no-planner", PlannerNotConfigured(), "planner_not_configured"),
    ("planning-failed", _planning_failed(), "planning_failed"),
    ("llm-unavailable", LLMError("llm_unavailable", "connection refused", retryable=True), "llm_unavailable"),
    ("llm-auth", LLMError("llm_auth", "bad key"), "llm_auth"),
    ("llm-rate-limited", LLMError("llm_rate_limited", "slow down", retryable=True), "llm_rate_limited"),
    ("llm-bad-request", LLMError("llm_bad_request", "context too long"), "llm_bad_request"),
    ("llm-refused", LLMError("llm_refused", "no"), "llm_refused"),
    ("unauthenticated", Unauthenticated("no token"), "unauthenticated"),
    ("server-error", ServerError(ErrorCode.UNKNOWN_TOOL, "unknown tool 'x'", "list tools"), "unknown_tool"),
    ("tool-error", ToolCallError(ToolErrorCode.TOOL_ERROR, "boom", retryable=True), "tool_error"),
    ("tool-timeout", ToolCallError(ToolErrorCode.TIMEOUT, "slow"), "timeout"),
    ("tool-arguments", ToolCallError(ToolErrorCode.INVALID_ARGUMENTS, "bad"), "invalid_arguments"),
    ("grouped", ExceptionGroup("task group", [NotFound("plan", "p1")]), "not_found"),
    ("unexpected", _Bug("secret internals"), "internal_error"),
]


@pytest.mark.parametrize(("error", "code"), [(e, c) for _, e, c in TABLE], ids=[i for i, _, _ in TABLE])
def test_every_internal_error_maps_to_a_body_with_code_message_and_hint(
    error: BaseException, code: str
) -> None:
    body = error_body(error)
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["hint"], str) and body["hint"]


@pytest.mark.parametrize(("error", "code"), [(e, c) for _, e, c in TABLE], ids=[i for i, _, _ in TABLE])
def test_a_failed_tool_call_is_an_error_result_carrying_the_body(error: BaseException, code: str) -> None:
    result = error_result(error)
    assert result.is_error
    assert result.structured_content == error_body(error)
    (text,) = result.content
    assert isinstance(text, TextContent) and text.text.startswith(f"{code}: ")


def test_an_unexpected_error_keeps_its_details_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="planexec.server"):
        body = error_body(_Bug("secret internals"))
    assert "secret internals" not in body["message"]
    assert caplog.records and caplog.records[0].exc_info is not None


def test_error_bodies_carry_what_the_caller_needs_to_act() -> None:
    invalid: dict[str, Any] = error_body(_invalid_plan())
    assert {e["code"] for e in invalid["errors"]} >= {"self_dependency"}
    assert error_body(TooManyRuns("acme", 4))["limit"] == 4
    assert error_body(RequestTooLarge(5000, 4096))["limit_bytes"] == 4096
    tool = error_body(ToolCallError(ToolErrorCode.TOOL_ERROR, "boom", retryable=True, detail={"x": 1}))
    assert tool["retryable"] is True and tool["detail"] == {"x": 1}
    assert [e["path"] for e in error_body(_validation_error())["errors"]] == ["/run_id", "/run"]
    failed = error_body(_planning_failed())
    assert [e["code"] for e in failed["errors"]] == ["schema_violation"]
    assert failed["planner"] == {
        "model": "m",
        "rounds": 3,
        "prompt_tokens": 300,
        "completion_tokens": 60,
        "latency_s": 1.5,
    }
    assert error_body(LLMError("llm_rate_limited", "slow down", retryable=True))["retryable"] is True
    assert error_body(LLMError("llm_auth", "bad key"))["retryable"] is False


@pytest.mark.parametrize(
    ("error", "jsonrpc_code"),
    [
        (NotFound("run", "r1"), INVALID_PARAMS),
        (_validation_error(), INVALID_PARAMS),
        (RequestTooLarge(5000, 4096), INVALID_REQUEST),
        (StoreUnavailable("down"), INTERNAL_ERROR),
    ],
    ids=["not-found", "bad-arguments", "too-large", "store-unavailable"],
)
def test_resource_and_prompt_failures_are_jsonrpc_errors_with_the_body_as_data(
    error: BaseException, jsonrpc_code: int
) -> None:
    raised = mcp_error(error)
    assert raised.code == jsonrpc_code
    assert raised.data == error_body(error)
