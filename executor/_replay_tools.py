"""The tool views a replay runs against.

- :class:`RecordedTools` (recorded mode) answers every call from the record and never
  calls a tool. Specs are made up from the plan: timeouts off (a recorded timeout comes
  back as the recorded error, and a call held by the conductor must not time out), each
  tool idempotent or not as its recorded timeouts show (that decides whether a timeout is
  retried), tools the recorded run was refused refused again. With a real tool view at
  hand, its per-tool concurrency limits and sources are kept, so launches queue as before.
  A call the record does not have fails with a ``tool_error`` (``detail.replay:
  "unrecorded_call"``) and is listed in :attr:`RecordedTools.unrecorded`.
- :class:`LiveTools` (live mode) calls the real tools for the live tasks, and answers the
  others from the record when the record has a finished outcome for that very call;
  a call the record has not (the recorded run never got there, or it was cut short) is
  made live. A compensation of a task reused from the record is never made live: it
  would undo what the *recorded* run did; it fails with a ``tool_error`` instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import anyio
from anyio.lowlevel import checkpoint

from planexec.registry import ToolAnnotations, ToolCallError, ToolErrorCode, ToolResult, ToolSpec, ToolView
from planexec.schemas import PlanObject

from ._conductor import Conductor, last_call
from ._recorded import CallKey, Recording, call_key

__all__ = ["LiveTools", "RecordedTools", "plan_tools"]


def plan_tools(plan: PlanObject) -> list[str]:
    """Every tool the plan names, tasks and compensations, in plan order."""
    names: dict[str, None] = {}
    for task in plan.tasks.values():
        names[task.tool_name] = None
        if task.compensation is not None:
            names[task.compensation.tool_name] = None
    return list(names)


class RecordedTools:
    """A ToolView that serves a recording (see the module docstring)."""

    def __init__(
        self, recording: Recording, plan: PlanObject, conductor: Conductor, real: ToolView | None = None
    ) -> None:
        self._recording = recording
        self._conductor = conductor
        self._specs = {name: _recorded_spec(name, recording, real) for name in plan_tools(plan)}
        self.unrecorded: list[CallKey] = []

    def get(self, name: str) -> ToolSpec | None:
        return self._specs.get(name)

    def is_permitted(self, name: str) -> bool:
        return name in self._specs and name not in self._recording.denied

    def specs(self) -> list[ToolSpec]:
        return list(self._specs.values())

    async def call(self, name: str, arguments: Mapping[str, Any], meta: Mapping[str, Any]) -> ToolResult:
        key = call_key(meta)
        recorded = self._recording.calls.get(key)
        if recorded is None:
            last_call.set(key)
            self.unrecorded.append(key)
            raise _unrecorded(key)
        await self._conductor.gate(key, recorded)
        return recorded.result()


def _recorded_spec(name: str, recording: Recording, real: ToolView | None) -> ToolSpec:
    known = real.get(name) if real is not None else None
    return ToolSpec(
        name=name,
        annotations=ToolAnnotations(idempotent=recording.idempotent.get(name, True), read_only=False),
        source=known.source if known is not None else "replay",
        max_concurrency=known.max_concurrency if known is not None else None,
    )


def _unrecorded(key: CallKey) -> ToolCallError:
    task_id, compensation, n = key
    what = "compensation" if compensation else "task"
    return ToolCallError(
        ToolErrorCode.TOOL_ERROR,
        f"replay: the recorded run made no call for {what} {task_id!r} attempt {n}",
        detail={"replay": "unrecorded_call"},
    )


class LiveTools:
    """A ToolView for a live replay from a task (see the module docstring)."""

    def __init__(self, recording: Recording, tools: ToolView, live: Iterable[str]) -> None:
        self._recording = recording
        self._tools = tools
        self._live = frozenset(live)
        self.live_calls = 0
        self.reused_calls = 0

    def get(self, name: str) -> ToolSpec | None:
        return self._tools.get(name)

    def is_permitted(self, name: str) -> bool:
        return self._tools.is_permitted(name)

    def specs(self) -> list[ToolSpec]:
        return self._tools.specs()

    async def call(self, name: str, arguments: Mapping[str, Any], meta: Mapping[str, Any]) -> ToolResult:
        key = call_key(meta)
        task_id, compensation, _ = key
        if task_id not in self._live:
            recorded = self._recording.calls.get(key)
            if recorded is not None and not recorded.cut_short:
                last_call.set(key)
                self.reused_calls += 1
                return recorded.result()
            if compensation:
                last_call.set(key)
                raise ToolCallError(
                    ToolErrorCode.TOOL_ERROR,
                    f"replay: task {task_id!r} was reused from the record; a live replay does not undo it",
                    detail={"replay": "reused_task_not_undone"},
                )
        last_call.set(None)
        self.live_calls += 1
        return await self._tools.call(name, arguments, meta)

    async def sleep(self, seconds: float) -> None:
        """Retry waits of live calls are real; those of answers from the record are not."""
        if last_call.get() is None:
            await anyio.sleep(seconds)
        else:
            await checkpoint()
