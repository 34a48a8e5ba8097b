"""The ``demo`` toolset (DESIGN §10): deterministic tools for docs, tests and demos.

Scalar results are wrapped as ``{"result": value}`` (see ``_python``), so a plan reads
``$<add.output.result>``. ``flaky`` counts attempts per (run id, task id) from the call's
``_meta``; the ledger is one dictionary per process (``reset_demo_state`` clears both).
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from pydantic import Field, WithJsonSchema
from typing_extensions import TypedDict

from ._python import PythonToolSource, RetryableToolError, ToolContext, ToolError, tool
from ._spec import ToolAnnotations

__all__ = ["demo_source", "ledger_snapshot", "reset_demo_state"]

_PURE = ToolAnnotations(read_only=True, idempotent=True, destructive=False, open_world=False)
_WRITE = ToolAnnotations(read_only=False, idempotent=True, destructive=False, open_world=False)
_DELETE = ToolAnnotations(read_only=False, idempotent=True, destructive=True, open_world=False)

_ledger: dict[str, Any] = {}
_flaky_attempts: dict[tuple[str | None, str | None, str | None], int] = {}

# One JSON type for LLMs and validators alike; pydantic still keeps ints as ints.
Number = Annotated[int | float, WithJsonSchema({"type": "number"})]


class LedgerEntry(TypedDict):
    key: str
    value: Any


class LedgerDeletion(TypedDict):
    key: str
    deleted: bool


class LedgerContents(TypedDict):
    entries: dict[str, Any]


def reset_demo_state() -> None:
    _ledger.clear()
    _flaky_attempts.clear()


def ledger_snapshot() -> dict[str, Any]:
    return dict(_ledger)


@tool(annotations=_PURE)
async def echo(value: Any) -> Any:
    """Return `value` unchanged."""
    return value


@tool(annotations=_PURE)
async def add(a: Number, b: Number) -> Number:
    """Return a + b."""
    return a + b


@tool(annotations=_PURE)
async def multiply(a: Number, b: Number) -> Number:
    """Return a * b."""
    return a * b


@tool(annotations=_PURE)
async def concat(parts: list[str], sep: str = "") -> str:
    """Join the strings `parts` with `sep`."""
    return sep.join(parts)


@tool(annotations=_PURE)
async def sleep(seconds: Annotated[float, Field(ge=0, le=3600)], value: Any = None) -> Any:
    """Wait `seconds`, then return `value`."""
    await anyio.sleep(seconds)
    return value


@tool(annotations=_PURE)
async def fail(message: str) -> Any:
    """Always fail with `message` (a non-retryable tool error)."""
    raise ToolError(message)


@tool(annotations=_PURE)
async def flaky(times: Annotated[int, Field(ge=0)], value: Any, ctx: ToolContext) -> Any:
    """Fail the first `times` attempts of each task (retryably), then return `value`."""
    key = (ctx.run_id, ctx.task_id, ctx.idempotency_key if ctx.run_id is None else None)
    seen = _flaky_attempts.get(key, 0) + 1
    _flaky_attempts[key] = seen
    if seen <= times:
        raise RetryableToolError(f"flaky: attempt {seen} of {times} planned failures")
    return value


@tool(annotations=_WRITE)
async def ledger_write(key: str, value: Any) -> LedgerEntry:
    """Write `value` under `key` in the process ledger."""
    _ledger[key] = value
    return {"key": key, "value": value}


@tool(annotations=_DELETE)
async def ledger_delete(key: str) -> LedgerDeletion:
    """Delete `key` from the process ledger (the undo of ledger_write)."""
    return {"key": key, "deleted": _ledger.pop(key, _MISSING) is not _MISSING}


@tool(annotations=_PURE)
async def ledger_read() -> LedgerContents:
    """Return every ledger entry."""
    return {"entries": dict(_ledger)}


_MISSING = object()


def demo_source(name: str = "demo") -> PythonToolSource:
    return PythonToolSource(
        name,
        [echo, add, multiply, concat, sleep, fail, flaky, ledger_write, ledger_delete, ledger_read],
    )
