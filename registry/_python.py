"""Tools from in-process Python functions; schemas come from type hints via pydantic.

A function's parameters become the input schema (pydantic ``Field`` metadata in
``Annotated`` hints is honoured). Its return annotation becomes the output schema: a
mapping or pydantic model is the structured output itself; any other type is wrapped as
``{"result": value}``, as the MCP SDK does, so a tool answers the same in-process and
over MCP. A parameter annotated :class:`ToolContext` receives the call's ``_meta``
(run id, task id, attempt, idempotency key) and is left out of the schema.

A function that raises :class:`ToolError` yields a ``tool_error`` with its message
(:class:`RetryableToolError`: a retryable one); any other exception a non-retryable
``tool_error`` naming the exception type, as is a return value the return annotation
does not allow. Two functions with one tool name are refused (DuplicateToolError). Sync
functions run in a worker thread.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, get_type_hints

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, create_model
from pydantic_core import PydanticSerializationError

from ._catalog import DuplicateToolError
from ._spec import ToolAnnotations, ToolCallError, ToolErrorCode, ToolResult, ToolSpec

__all__ = ["PythonToolSource", "RetryableToolError", "ToolContext", "ToolError", "tool"]

META_PREFIX = "planexec/"


class ToolError(Exception):
    """Raise from a tool function for a failure reported with its message as it is."""

    retryable = False


class RetryableToolError(ToolError):
    """Raise from a tool function for a failure that a retry may cure."""

    retryable = True


@dataclass(frozen=True, slots=True)
class ToolContext:
    """The ``_meta`` of a call, as a Python tool sees it."""

    run_id: str | None = None
    task_id: str | None = None
    attempt: int = 1
    idempotency_key: str | None = None

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> ToolContext:
        attempt = meta.get(f"{META_PREFIX}attempt", 1)
        return cls(
            run_id=meta.get(f"{META_PREFIX}run_id"),
            task_id=meta.get(f"{META_PREFIX}task_id"),
            attempt=attempt if isinstance(attempt, int) else 1,
            idempotency_key=meta.get(f"{META_PREFIX}idempotency_key"),
        )


@dataclass(frozen=True)
class _ToolOptions:
    name: str | None = None
    description: str | None = None
    annotations: ToolAnnotations = field(default_factory=ToolAnnotations)
    timeout_s: float | None = None
    cache_ttl_s: float | None = None
    max_concurrency: int | None = None


def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    annotations: ToolAnnotations | None = None,
    timeout_s: float | None = None,
    cache_ttl_s: float | None = None,
    max_concurrency: int | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Attach tool options to a function (it stays callable as before)."""

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__planexec_tool__ = _ToolOptions(  # type: ignore[attr-defined]
            name, description, annotations or ToolAnnotations(), timeout_s, cache_ttl_s, max_concurrency
        )
        return fn

    return mark


def _is_mapping_type(annotation: Any) -> bool:
    origin = getattr(annotation, "__origin__", annotation)
    if inspect.isclass(origin) and issubclass(origin, (BaseModel, Mapping)):
        return True
    return getattr(annotation, "__total__", None) is not None  # TypedDict


@dataclass(frozen=True, slots=True)
class _PythonTool:
    spec: ToolSpec
    fn: Callable[..., Any]
    is_async: bool
    validate_arguments: Callable[[Any], BaseModel]
    """The arguments model's validator: a model instance whose ``__dict__`` holds the
    parameters (``extra="forbid"``, so nothing else)."""
    context_param: str | None
    wraps_result: bool
    validate_result: Callable[[Any], Any]
    dump_result: Callable[..., Any]
    """The return annotation's validator and serializer (built: the output schema is)."""


def _build(fn: Callable[..., Any], source: str, prefix: str) -> _PythonTool:
    options: _ToolOptions = getattr(fn, "__planexec_tool__", _ToolOptions())
    hints = get_type_hints(fn, include_extras=True)
    fields: dict[str, Any] = {}
    context_param = None
    for param in inspect.signature(fn).parameters.values():
        hint = hints.get(param.name, Any)
        if hint is ToolContext:
            context_param = param.name
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (hint, default)
    with warnings.catch_warnings():
        # Parameters named like BaseModel methods (json, schema, copy, ...) are fine here: the
        # model is private and read only through its fields.
        warnings.filterwarnings("ignore", r"Field name .* shadows an attribute", UserWarning)
        model = create_model(f"{fn.__name__}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    returns = hints.get("return", Any)
    wraps = not _is_mapping_type(returns)
    adapter: TypeAdapter[Any] = TypeAdapter(returns)
    result_schema = adapter.json_schema()
    output_schema = (
        {
            "type": "object",
            "properties": {"result": result_schema},
            "required": ["result"],
            "additionalProperties": False,
        }
        if wraps
        else result_schema
    )
    input_schema = model.model_json_schema()
    input_schema.pop("title", None)
    doc = inspect.getdoc(fn) or ""
    spec = ToolSpec(
        name=prefix + (options.name or fn.__name__),
        description=options.description or doc.split("\n\n")[0],
        input_schema=input_schema,
        output_schema=output_schema,
        annotations=options.annotations,
        timeout_s=options.timeout_s,
        cache_ttl_s=options.cache_ttl_s,
        max_concurrency=options.max_concurrency,
        source=source,
    )
    return _PythonTool(
        spec,
        fn,
        inspect.iscoroutinefunction(fn),
        model.__pydantic_validator__.validate_python,
        context_param,
        wraps,
        adapter.validator.validate_python,
        adapter.serializer.to_python,
    )


class PythonToolSource:
    """A tool source over Python functions; ``prefix`` (e.g. ``"alias__"``) names its tools."""

    def __init__(self, name: str, functions: Iterable[Callable[..., Any]], prefix: str = "") -> None:
        self.name = name
        tools = [_build(fn, name, prefix) for fn in functions]
        self._tools = {t.spec.name: t for t in tools}
        if len(self._tools) != len(tools):  # one would silently shadow the other
            names = [t.spec.name for t in tools]
            twice = sorted({n for n in names if names.count(n) > 1})
            raise DuplicateToolError(f"source {name!r} offers these tool names twice: {', '.join(twice)}")

    def specs(self) -> list[ToolSpec]:
        return [t.spec for t in self._tools.values()]

    async def call(self, name: str, arguments: Mapping[str, Any], meta: Mapping[str, Any]) -> ToolResult:
        entry = self._tools.get(name)
        if entry is None:
            raise ToolCallError(ToolErrorCode.TOOL_ERROR, f"source {self.name!r} has no tool {name!r}")
        try:
            parsed = entry.validate_arguments(arguments if type(arguments) is dict else dict(arguments))
        except ValidationError as error:
            raise ToolCallError(
                ToolErrorCode.INVALID_ARGUMENTS,
                f"invalid arguments for {name}: {error.error_count()} problem(s)",
                detail={"errors": error.errors(include_url=False, include_context=False)},
            ) from None
        kwargs = parsed.__dict__  # the model is ours alone and dropped after the call
        if entry.context_param:
            kwargs = {**kwargs, entry.context_param: ToolContext.from_meta(meta)}
        try:
            if entry.is_async:
                value = await entry.fn(**kwargs)
            else:
                value = await anyio.to_thread.run_sync(lambda: entry.fn(**kwargs))
        except ToolError as error:
            return _error_result(str(error), retryable=error.retryable)
        except Exception as error:  # a tool's own failure is data, not a crash
            return _error_result(f"{type(error).__name__}: {error}", retryable=False)
        try:
            # Validate before dumping, as the MCP SDK does: a value its annotation does not
            # allow (or that has no JSON form) is the tool's failure, not the caller's crash.
            dumped = entry.dump_result(entry.validate_result(value), mode="json")
        except (ValidationError, PydanticSerializationError) as error:
            return _error_result(
                f"{name} returned a value its return annotation does not allow: {error}", retryable=False
            )
        # The text block (the value as compact JSON) is written only if someone reads it.
        return ToolResult.from_value(dumped, {"result": dumped} if entry.wraps_result else dumped)


def _error_result(message: str, *, retryable: bool) -> ToolResult:
    return ToolResult(
        content=[{"type": "text", "text": message}],
        structured_content={"code": "tool_error", "message": message, "retryable": retryable},
        is_error=True,
    )
