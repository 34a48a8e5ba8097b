"""Internal errors as MCP answers: one mapping, :func:`error_body`.

A tool that fails answers a ``CallToolResult`` with ``is_error`` and the structured body
``{code, message, hint, ...}`` (:func:`error_result`), never a JSON-RPC error, so the
calling model sees what went wrong and how to fix it. Resources and prompts have no
error results: they answer a JSON-RPC error carrying the same body as ``data``
(:func:`mcp_error`). Errors the server raises itself::

    ServerError               code, message, hint, extra fields of the body
      ├─ InvalidPlan          the plan failed validation (the full error list)
      ├─ TooManyRuns          the tenant's concurrent-run limit is reached
      ├─ RunNotRunning        cancel_run on a run that is over, or not in this process
      ├─ RequestTooLarge      a request over the size limit
      ├─ PlannerNotConfigured create_plan without an LLM to plan with
      └─ Unauthenticated      a request without the credential the server demands

Besides those: ``store.NotFound`` (another tenant's item is NotFound too),
``store.StoreUnavailable``, ``registry.ToolCallError`` (its own code),
``executor.ReplayError``,
``planner.PlanSourceError``, ``planner.PlanningFailed`` (``planning_failed`` with the last
round's errors and the planner's figures), ``planner.LLMError`` (its own code:
``llm_unavailable``, ``llm_auth``, ``llm_rate_limited``, ``llm_bad_request``,
``llm_refused``), ``pydantic.ValidationError`` (bad tool arguments);
anything else is ``internal_error`` with the details kept in the
server log, not sent to the client.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, CallToolResult, TextContent
from pydantic import ValidationError

from planexec.executor import ReplayError
from planexec.planner import LLMError, PlanningFailed, PlanSourceError, ValidationResult
from planexec.registry import ToolCallError
from planexec.store import NotFound, StoreUnavailable

__all__ = [
    "ErrorCode",
    "InvalidPlan",
    "PlannerNotConfigured",
    "RequestTooLarge",
    "RunNotRunning",
    "ServerError",
    "TooManyRuns",
    "Unauthenticated",
    "error_body",
    "error_result",
    "mcp_error",
]

logger = logging.getLogger("planexec.server")


class ErrorCode(StrEnum):
    """Codes of the server's own error bodies (tool errors keep the tool's code)."""

    INVALID_ARGUMENTS = "invalid_arguments"
    INVALID_PLAN = "invalid_plan"
    INVALID_PLAN_SOURCE = "invalid_plan_source"
    NOT_REPLAYABLE = "not_replayable"
    NOT_FOUND = "not_found"
    RUN_NOT_RUNNING = "run_not_running"
    TOO_MANY_RUNS = "too_many_runs"
    REQUEST_TOO_LARGE = "request_too_large"
    STORE_UNAVAILABLE = "store_unavailable"
    PLANNER_NOT_CONFIGURED = "planner_not_configured"
    UNKNOWN_TOOL = "unknown_tool"
    HOST_NOT_ALLOWED = "host_not_allowed"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    TOOLS_CHANGED = "tools_changed"
    UNAUTHENTICATED = "unauthenticated"
    INTERNAL_ERROR = "internal_error"


class ServerError(Exception):
    """A failure the server reports as it is: ``code``, ``message``, ``hint`` and any
    ``extra`` fields of the error body."""

    def __init__(self, code: ErrorCode, message: str, hint: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.extra = extra


class InvalidPlan(ServerError):
    def __init__(self, result: ValidationResult) -> None:
        document = result.as_json()
        super().__init__(
            ErrorCode.INVALID_PLAN,
            f"the plan is invalid: {len(result.errors)} error(s)",
            "fix every error listed (each has a path and a hint), then validate_plan again",
            errors=document["errors"],
            warnings=document["warnings"],
        )


class TooManyRuns(ServerError):
    def __init__(self, tenant: str, limit: int) -> None:
        super().__init__(
            ErrorCode.TOO_MANY_RUNS,
            f"tenant {tenant!r} already has {limit} runs in progress, the limit",
            "wait for a run to finish (get_run, list_runs status=running) or cancel_run one",
            limit=limit,
        )


class RunNotRunning(ServerError):
    def __init__(self, run_id: str, status: str) -> None:
        hint = (
            "the run is over; get_run shows how it ended"
            if status != "running"
            else "the run is in progress in another server process; cancel it there"
        )
        super().__init__(
            ErrorCode.RUN_NOT_RUNNING, f"run {run_id!r} cannot be cancelled here (status {status})", hint
        )


class RequestTooLarge(ServerError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            ErrorCode.REQUEST_TOO_LARGE,
            f"the request is {size} bytes, over the limit of {limit}",
            "send a smaller plan or smaller arguments, or store the plan and pass plan_id",
            limit_bytes=limit,
        )


class PlannerNotConfigured(ServerError):
    def __init__(self) -> None:
        super().__init__(
            ErrorCode.PLANNER_NOT_CONFIGURED,
            "create_plan has no LLM to plan with on this server",
            "start the server with PLANEXEC_PLANNER_MODEL set to a litellm model name "
            "(e.g. openai/gpt-4.1-mini), or connect with a client that supports sampling; "
            "meanwhile write the plan yourself and call validate_plan, then execute_plan",
        )


class Unauthenticated(ServerError):
    def __init__(self, message: str) -> None:
        super().__init__(
            ErrorCode.UNAUTHENTICATED, message, "send a valid bearer token (planexec keys create makes one)"
        )


_HINTS = {
    "tool_error": "the tool reported a failure; read the message, fix the arguments or try another tool",
    "transport_error": "the tool's server could not be reached; try again later",
    "invalid_arguments": "match the tool's input schema (tools/list shows it)",
    "tool_not_permitted": "use a tool listed by tools/list",
    "timeout": "the tool took too long; try again, or with less work",
}


_LLM_HINTS = {
    "llm_unavailable": "the planner's LLM could not be reached; try again later, or write the plan "
    "yourself and call validate_plan",
    "llm_auth": "the server's planner credentials were refused (PLANEXEC_PLANNER_API_KEY); "
    "tell the server's operator",
    "llm_rate_limited": "the planner's LLM is rate limited; try again in a moment",
    "llm_bad_request": "the LLM refused the request (model name, context window); shorten the goal "
    "or context, or tell the server's operator",
    "llm_refused": "the LLM gave no usable answer; rephrase the goal, or write the plan yourself",
}


def error_body(error: BaseException) -> dict[str, Any]:
    """The structured error body ``{code, message, hint, ...}`` for any failure (a task
    group's group of one error counts as that error)."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    if isinstance(error, ServerError):
        return {"code": error.code.value, "message": error.message, "hint": error.hint, **error.extra}
    if isinstance(error, NotFound):
        return {
            "code": ErrorCode.NOT_FOUND.value,
            "message": f"no {error.kind} {error.key!r}",
            "hint": f"check the {error.kind} id (list_runs lists your runs); "
            "ids of other tenants are not visible",
            "kind": error.kind,
        }
    if isinstance(error, StoreUnavailable):
        return {
            "code": ErrorCode.STORE_UNAVAILABLE.value,
            "message": f"the store cannot be reached: {error}",
            "hint": "retry in a moment; if it persists, the server's store needs attention",
        }
    if isinstance(error, ToolCallError):
        return {
            "code": error.code.value,
            "message": error.message,
            "hint": _HINTS.get(error.code.value, "see the message"),
            "retryable": error.retryable,
            "detail": error.detail,
        }
    if isinstance(error, ValidationError):
        problems = [
            {"path": "/" + "/".join(str(part) for part in e["loc"]), "message": e["msg"]}
            for e in error.errors()
        ]
        return {
            "code": ErrorCode.INVALID_ARGUMENTS.value,
            "message": "; ".join(f"{p['path']}: {p['message']}" for p in problems),
            "hint": "match the tool's input schema (tools/list shows it)",
            "errors": problems,
        }
    if isinstance(error, ReplayError):
        return {
            "code": ErrorCode.NOT_REPLAYABLE.value,
            "message": str(error),
            "hint": "replay a finished run; live=true needs from_task, a task of the run's plan",
        }
    if isinstance(error, PlanningFailed):
        return {
            **error.as_json(),
            "hint": "rephrase the goal or add context; or take the errors, write the plan yourself "
            "and call validate_plan",
        }
    if isinstance(error, LLMError):
        return {
            "code": error.code,
            "message": error.message,
            "hint": _LLM_HINTS.get(error.code, "see the message"),
            "retryable": error.retryable,
        }
    if isinstance(error, PlanSourceError):
        return {
            "code": ErrorCode.INVALID_PLAN_SOURCE.value,
            "message": str(error),
            "hint": "pass the plan itself (an object or JSON/YAML text), or a stored plan_id",
        }
    logger.error("unexpected error in an MCP handler", exc_info=error)
    return {
        "code": ErrorCode.INTERNAL_ERROR.value,
        "message": f"unexpected server error ({type(error).__name__})",
        "hint": "the details are in the server log; report it if it persists",
    }


def error_result(error: BaseException) -> CallToolResult:
    """A failed tool call: ``is_error`` with the body as structured content and a one-line
    text for clients that read only text."""
    body = error_body(error)
    text = f"{body['code']}: {body['message']} (hint: {body['hint']})"
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=body, is_error=True
    )


def mcp_error(error: BaseException, **context: Any) -> MCPError:
    """The JSON-RPC error for a failed resource read or prompt: the body as ``data``,
    with ``context`` (the resource's ``uri``, say) added."""
    body = {**error_body(error), **context}
    code = {
        ErrorCode.NOT_FOUND.value: INVALID_PARAMS,
        ErrorCode.INVALID_ARGUMENTS.value: INVALID_PARAMS,
        ErrorCode.REQUEST_TOO_LARGE.value: INVALID_REQUEST,
    }.get(body["code"], INTERNAL_ERROR)
    return MCPError(code=code, message=str(body["message"]), data=body)
