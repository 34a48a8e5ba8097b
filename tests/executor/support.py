"""Test doubles for executor tests: a scripted tool view, a fake clock, a recording sleep.

Nothing here orders events with real sleeps: tools block on ``anyio.Event``\\ s the tests
release, and retry waits go through :class:`RecordingSleep`, which records and skips them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from anyio.lowlevel import checkpoint

from planexec.executor import Executor, Limits
from planexec.registry import ToolAnnotations, ToolResult, ToolSpec
from planexec.schemas import PlanObject

ToolFn = Callable[[dict[str, Any], dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class Call:
    tool: str
    arguments: dict[str, Any]
    meta: dict[str, Any]


class FakeClock:
    """Every reading is one millisecond after the previous one."""

    def __init__(self) -> None:
        self._now = datetime(2026, 1, 1, tzinfo=UTC)
        self._monotonic = 0.0

    def now(self) -> datetime:
        self._now += timedelta(milliseconds=1)
        return self._now

    def monotonic(self) -> float:
        self._monotonic += 0.001
        return self._monotonic


class RecordingSleep:
    """Records each retry wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await checkpoint()


async def echo_arguments(arguments: dict[str, Any], meta: dict[str, Any]) -> Any:
    return dict(arguments)


def as_result(value: Any) -> ToolResult:
    if isinstance(value, ToolResult):
        return value
    if isinstance(value, dict):
        return ToolResult(structured_content=value)
    return ToolResult(structured_content={"result": value})


@dataclass
class Gauge:
    """Counts calls in flight and remembers the highest count."""

    active: int = 0
    peak: int = 0

    def enter(self) -> None:
        self.active += 1
        self.peak = max(self.peak, self.active)

    def leave(self) -> None:
        self.active -= 1


@dataclass
class ScriptedTools:
    """A ToolView whose tools are test functions; it records every call in order."""

    calls: list[Call] = field(default_factory=list)
    _specs: dict[str, ToolSpec] = field(default_factory=dict)
    _fns: dict[str, ToolFn] = field(default_factory=dict)
    denied: set[str] = field(default_factory=set)

    def add(
        self,
        name: str,
        fn: ToolFn = echo_arguments,
        *,
        idempotent: bool = True,
        source: str = "local",
        max_concurrency: int | None = None,
        timeout_s: float | None = None,
    ) -> None:
        annotations = ToolAnnotations(idempotent=idempotent, read_only=False)
        self._specs[name] = ToolSpec(
            name=name,
            annotations=annotations,
            source=source,
            max_concurrency=max_concurrency,
            timeout_s=timeout_s,
        )
        self._fns[name] = fn

    def get(self, name: str) -> ToolSpec | None:
        return self._specs.get(name)

    def is_permitted(self, name: str) -> bool:
        return name in self._specs and name not in self.denied

    def specs(self) -> list[ToolSpec]:
        return list(self._specs.values())

    async def call(self, name: str, arguments: Mapping[str, Any], meta: Mapping[str, Any]) -> ToolResult:
        self.calls.append(Call(name, dict(arguments), dict(meta)))
        return as_result(await self._fns[name](dict(arguments), dict(meta)))

    def called(self, tool: str | None = None) -> list[Call]:
        return [c for c in self.calls if tool is None or c.tool == tool]

    def task_order(self) -> list[str]:
        """The task ids of the calls, in call order."""
        return [c.meta["planexec/task_id"] for c in self.calls]


def make_plan(tasks: dict[str, dict[str, Any]], **fields: Any) -> PlanObject:
    return PlanObject.model_validate({"tasks": tasks, **fields})


def task(
    tool: str, parameters: dict[str, Any] | None = None, deps: tuple[str, ...] = (), **fields: Any
) -> dict[str, Any]:
    return {"tool_name": tool, "parameters": parameters or {}, "dependencies": list(deps), **fields}


def no_jitter(**policy: Any) -> dict[str, Any]:
    return {"jitter": False, **policy}


@dataclass
class Harness:
    tools: ScriptedTools
    clock: FakeClock
    sleep: RecordingSleep

    def executor(self, limits: Limits | None = None, **kwargs: Any) -> Executor:
        return Executor(self.tools, limits=limits, clock=self.clock, sleep=self.sleep, **kwargs)


def blocking(gate: anyio.Event, started: anyio.Event | None = None, value: Any = "done") -> ToolFn:
    """A tool that signals ``started`` and then waits for ``gate``."""

    async def tool(arguments: dict[str, Any], meta: dict[str, Any]) -> Any:
        if started is not None:
            started.set()
        await gate.wait()
        return value

    return tool


def failing(message: str = "boom", *, retryable: bool = False, times: int | None = None) -> ToolFn:
    """A tool that answers isError (the first ``times`` calls per task, or always)."""
    seen: dict[str, int] = {}

    async def tool(arguments: dict[str, Any], meta: dict[str, Any]) -> Any:
        key = meta["planexec/task_id"]
        seen[key] = seen.get(key, 0) + 1
        if times is None or seen[key] <= times:
            return ToolResult(
                content=[{"type": "text", "text": message}],
                structured_content={"message": message, "retryable": retryable},
                is_error=True,
            )
        return dict(arguments)

    return tool
