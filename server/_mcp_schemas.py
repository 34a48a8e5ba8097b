"""The meta-tools' contracts: argument models (their JSON Schema is the input schema),
output schemas, and the ``Tool`` definitions ``tools/list`` shows (DESIGN §7).

Arguments are validated by these models before a handler runs; a model rejects unknown
fields, so a misspelt argument is an ``invalid_arguments`` error, not silently ignored.
Output schemas describe the ``structured_content`` of results: the tool's own shape on
success, or the error body ``{code, message, hint, ...}`` of an ``is_error`` result
(:func:`admits_errors`; clients check both against the schema).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp_types import Tool, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field, model_validator

from planexec.executor import RunRecord, RunStatus

__all__ = [
    "ERROR_BODY",
    "MAX_REPLANS",
    "META_TOOLS",
    "CancelRunArgs",
    "ConnectServerArgs",
    "CreatePlanArgs",
    "DisconnectServerArgs",
    "ExecutePlanArgs",
    "GetRunArgs",
    "ListRunsArgs",
    "RegisterToolArgs",
    "ReplayRunArgs",
    "ValidatePlanArgs",
    "admits_errors",
]

PlanDocument = Annotated[
    dict[str, Any] | str,
    Field(description="A PlanObject: a JSON object, or JSON/YAML text of one."),
]
RunId = Annotated[str, Field(min_length=1, max_length=200, description="A run id (execute_plan returns it).")]
MAX_REPLANS = 3
"""The largest ``replan_on_failure`` accepted."""


SessionId = Annotated[
    str | None,
    Field(
        max_length=128,
        description="A planexec session id; default: the Mcp-Session-Id, else the x-planexec-session "
        "header, else your default session.",
    ),
]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    session: SessionId = None


class ValidatePlanArgs(_Args):
    plan: PlanDocument


class ExecutePlanArgs(_Args):
    plan: PlanDocument | None = None
    plan_id: Annotated[
        str | None, Field(max_length=200, description="Run a plan stored before (instead of `plan`).")
    ] = None
    inputs: Annotated[
        dict[str, Any] | None, Field(description="Run inputs; they override the plan's inputs key by key.")
    ] = None
    wait: Annotated[
        bool,
        Field(description="true: answer with the finished run record; false: answer {run_id} at once."),
    ] = True
    replan_on_failure: Annotated[
        int,
        Field(
            ge=0,
            le=MAX_REPLANS,
            description="When the run fails, ask the planner for a revised plan for what is unfinished "
            "(given the completed outputs) and run it; at most this many times. Needs wait=true.",
        ),
    ] = 0

    @model_validator(mode="after")
    def _plan_or_plan_id(self) -> ExecutePlanArgs:
        if (self.plan is None) == (self.plan_id is None):
            raise ValueError("give exactly one of plan and plan_id")
        if self.replan_on_failure and not self.wait:
            raise ValueError("replan_on_failure needs wait=true (the call answers the last run)")
        return self


class GetRunArgs(_Args):
    run_id: RunId


class ListRunsArgs(_Args):
    status: Annotated[RunStatus | None, Field(description="Only runs with this status.")] = None
    limit: Annotated[int, Field(ge=1, le=500, description="At most this many runs, newest first.")] = 50


class CancelRunArgs(_Args):
    run_id: RunId


class ReplayRunArgs(_Args):
    run_id: RunId
    live: Annotated[
        bool, Field(description="false: recorded tool results only; true: call tools live from from_task on.")
    ] = False
    from_task: Annotated[
        str | None, Field(description="With live: reuse recorded outputs upstream of this task.")
    ] = None


class ConnectServerArgs(_Args):
    alias: Annotated[
        str,
        Field(pattern=r"^[a-zA-Z0-9-]{1,24}$", description="Prefix of the server's tools: alias__tool."),
    ]
    url: Annotated[
        str, Field(max_length=2048, description="Streamable HTTP URL of an MCP server on an allowed host.")
    ]


class DisconnectServerArgs(_Args):
    alias: Annotated[str, Field(min_length=1, max_length=24, description="An alias connect_server added.")]


class RegisterToolArgs(_Args):
    name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$", description="The tool's name.")]
    description: Annotated[str, Field(max_length=4096)] = ""
    url: Annotated[str, Field(max_length=2048, description="The endpoint, on an allowed host.")]
    method: Annotated[
        Literal["GET", "POST", "PUT", "PATCH", "DELETE"],
        Field(description="GET/DELETE send the arguments as query parameters, others as a JSON body."),
    ] = "POST"
    input_schema: Annotated[dict[str, Any], Field(description="JSON Schema of the arguments (an object).")]
    output_schema: Annotated[dict[str, Any] | None, Field(description="JSON Schema of the answer.")] = None


class CreatePlanArgs(_Args):
    goal: Annotated[str, Field(min_length=1, max_length=20_000, description="What the plan should achieve.")]
    context: Annotated[
        str | dict[str, Any] | None, Field(description="Facts, constraints or inputs the planner should use.")
    ] = None
    inputs: Annotated[
        dict[str, Any] | None,
        Field(description="Values the plan should take as its inputs (referenced as $<inputs.KEY>)."),
    ] = None


ERROR_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "description": "a stable error code"},
        "message": {"type": "string"},
        "hint": {"type": "string", "description": "what to do about it"},
    },
    "required": ["code", "message", "hint"],
}


def admits_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or the error body: an ``is_error`` result carries the error body as its
    structured content, and some clients (the TypeScript SDK's) check error results
    against the output schema too. The root stays ``type: object`` (2025-11-25)."""
    success = dict(schema)
    definitions = success.pop("$defs", None)
    combined: dict[str, Any] = {"type": "object", "anyOf": [success, ERROR_BODY]}
    if definitions is not None:
        combined["$defs"] = definitions
    return combined


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    return schema


def _run_record_schema(required: list[str]) -> dict[str, Any]:
    schema = RunRecord.model_json_schema(mode="serialization")
    schema.pop("title", None)
    schema["required"] = required
    return schema


def _with_replans(schema: dict[str, Any]) -> dict[str, Any]:
    """execute_plan's record, with what ``replan_on_failure`` adds to it."""
    replan = {
        "type": "object",
        "properties": {
            "round": {"type": "integer"},
            "from_run_id": {"type": "string", "description": "the failed run this round replanned"},
            "plan_id": {"type": "string", "description": "the revised plan (stored)"},
            "run_id": {"type": "string", "description": "its run (stored with replan_of)"},
            "status": {"type": "string", "enum": [s.value for s in RunStatus]},
            "planner": {"type": "object"},
        },
        "required": ["round", "from_run_id", "plan_id", "run_id", "status", "planner"],
    }
    properties = {
        **schema["properties"],
        "replans": {"type": "array", "items": replan, "description": "with replan_on_failure: each round"},
        "replan_of": {"type": "string", "description": "the failed run this run replaces"},
        "replan_error": {"type": "object", "description": "why a replan round could not be planned"},
    }
    return {**schema, "properties": properties}


_PROBLEM = {
    "type": "object",
    "properties": {
        "code": {"type": "string"},
        "path": {"type": "string", "description": "JSON Pointer into the plan"},
        "message": {"type": "string"},
        "hint": {"type": "string"},
        "detail": {"type": "object"},
    },
    "required": ["code", "path", "message"],
}
_VALIDATION_OUTPUT = {
    "type": "object",
    "properties": {
        "valid": {"type": "boolean"},
        "plan": {"anyOf": [{"type": "object"}, {"type": "null"}], "description": "the normalised plan"},
        "errors": {"type": "array", "items": _PROBLEM},
        "warnings": {"type": "array", "items": _PROBLEM},
    },
    "required": ["valid", "plan", "errors", "warnings"],
}
_RUN_SUMMARY = {
    "type": "object",
    "properties": {
        "run_id": {"type": "string"},
        "plan_id": {"type": "string"},
        "status": {"type": "string", "enum": [s.value for s in RunStatus]},
        "user": {"type": ["string", "null"]},
        "started_at": {"type": ["string", "null"]},
        "finished_at": {"type": ["string", "null"]},
    },
    "required": ["run_id", "plan_id", "status"],
}
_REPLAY_OUTPUT = {
    "type": "object",
    "properties": {
        "status": {"type": "string"},
        "output": {},
        "identical": {"type": "boolean"},
        "divergence": {"anyOf": [{"type": "object"}, {"type": "null"}]},
        "run_id": {"type": "string"},
        "replay_of": {"type": "string"},
    },
    "required": ["status", "identical", "run_id", "replay_of"],
}
_CREATE_PLAN_OUTPUT = {
    "type": "object",
    "properties": {
        "plan_id": {"type": "string", "description": "the stored plan: execute_plan(plan_id=...)"},
        "plan": {"type": "object", "description": "the validated PlanObject"},
        "warnings": {"type": "array", "items": _PROBLEM},
        "planner": {
            "type": "object",
            "properties": {
                "model": {"type": "string"},
                "rounds": {"type": "integer", "description": "LLM calls, repairs included"},
                "prompt_tokens": {"type": "integer"},
                "completion_tokens": {"type": "integer"},
                "latency_s": {"type": "number"},
            },
            "required": ["model", "rounds", "prompt_tokens", "completion_tokens", "latency_s"],
        },
    },
    "required": ["plan_id", "plan", "warnings", "planner"],
}

_SESSION_TOOLS_OUTPUT = {
    "type": "object",
    "properties": {
        "session": {"type": "string", "description": "the planexec session changed"},
        "tools": {"type": "array", "items": {"type": "string"}, "description": "the tools it brought"},
    },
    "required": ["session", "tools"],
}
_SESSION = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)

_READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
_RUNS = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True
)
_CANCEL = ToolAnnotations(  # cancel_run, and validate_plan (it stores the plan it validated)
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
_PLANS = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)

_META: list[tuple[Tool, type[_Args]]] = [
    (
        Tool(
            name="create_plan",
            description="Turn a goal into a validated plan (a DAG of tool calls) and store it. "
            "Run it with execute_plan(plan_id=...).",
            input_schema=_schema(CreatePlanArgs),
            output_schema=_CREATE_PLAN_OUTPUT,
            annotations=_PLANS,
        ),
        CreatePlanArgs,
    ),
    (
        Tool(
            name="validate_plan",
            description="Check a plan (schema, DAG, references, tools, arguments) and report every "
            "problem at once, each with a JSON Pointer path and a hint. Runs nothing; a valid plan is "
            "stored with its tools pinned (execute_plan refuses it if one changes).",
            input_schema=_schema(ValidatePlanArgs),
            output_schema=_VALIDATION_OUTPUT,
            annotations=_CANCEL,
        ),
        ValidatePlanArgs,
    ),
    (
        Tool(
            name="execute_plan",
            description="Validate, store and run a plan (or a stored plan_id): tasks run in parallel "
            "wherever dependencies allow. Progress is reported per finished task. wait=false "
            "answers {run_id} at once; follow the run with get_run.",
            input_schema=_schema(ExecutePlanArgs),
            output_schema=_with_replans(_run_record_schema(["run_id"])),
            annotations=_RUNS,
        ),
        ExecutePlanArgs,
    ),
    (
        Tool(
            name="get_run",
            description="A run record: status, output, error, and per task its attempts.",
            input_schema=_schema(GetRunArgs),
            output_schema=_run_record_schema(["run_id", "plan_id", "status", "started_at", "tasks"]),
            annotations=_READ_ONLY,
        ),
        GetRunArgs,
    ),
    (
        Tool(
            name="list_runs",
            description="Your runs, newest first, optionally only those with one status.",
            input_schema=_schema(ListRunsArgs),
            output_schema={
                "type": "object",
                "properties": {"runs": {"type": "array", "items": _RUN_SUMMARY}},
                "required": ["runs"],
            },
            annotations=_READ_ONLY,
        ),
        ListRunsArgs,
    ),
    (
        Tool(
            name="cancel_run",
            description="Stop a run in progress: running tasks are cancelled, nothing new starts, "
            "compensations of succeeded tasks still run. Answers the run record.",
            input_schema=_schema(CancelRunArgs),
            output_schema=_run_record_schema(["run_id", "plan_id", "status", "started_at", "tasks"]),
            annotations=_CANCEL,
        ),
        CancelRunArgs,
    ),
    (
        Tool(
            name="replay_run",
            description="Re-execute a stored run from its recorded tool results and report whether "
            "it comes out identical (or the first divergence); live=true calls tools again from "
            "from_task on.",
            input_schema=_schema(ReplayRunArgs),
            output_schema=_REPLAY_OUTPUT,
            annotations=_RUNS,
        ),
        ReplayRunArgs,
    ),
    (
        Tool(
            name="connect_server",
            description="Connect an upstream MCP server (streamable HTTP, allow-listed hosts only) to "
            "your session: its tools appear as alias__tool for you alone, usable in plans.",
            input_schema=_schema(ConnectServerArgs),
            output_schema=_SESSION_TOOLS_OUTPUT,
            annotations=_SESSION,
        ),
        ConnectServerArgs,
    ),
    (
        Tool(
            name="disconnect_server",
            description="Remove an upstream server connect_server added to your session.",
            input_schema=_schema(DisconnectServerArgs),
            output_schema=_SESSION_TOOLS_OUTPUT,
            annotations=_SESSION,
        ),
        DisconnectServerArgs,
    ),
    (
        Tool(
            name="register_tool",
            description="Register an HTTP endpoint (allow-listed hosts only) as a tool of your session.",
            input_schema=_schema(RegisterToolArgs),
            output_schema=_SESSION_TOOLS_OUTPUT,
            annotations=_SESSION,
        ),
        RegisterToolArgs,
    ),
]
META_TOOLS: dict[str, tuple[Tool, type[_Args]]] = {
    tool.name: (tool.model_copy(update={"output_schema": admits_errors(tool.output_schema or {})}), args)
    for tool, args in _META
}
