"""A stored run read back for replay: every call it made, how each ended, and the order
in which the run saw things happen.

A call is keyed by ``(task id, compensation?, attempt n)``, as the executor's ``_meta``
names it (``planexec/task_id``, ``planexec/attempt``, and an idempotency key ending in
``:compensation`` for an undo call). Each recorded attempt has one fate:

- it **finished**: with an output, or with an error other than ``cancelled``; a replay
  hands back that outcome (:meth:`RecordedCall.result`);
- it was **cut short** (error ``cancelled``): the recorded run halted while it ran; a
  replay holds the call until the replayed run cancels it in turn.

A task recorded ``cancelled`` whose last attempt failed retryably was cancelled while it
waited to retry: :attr:`Recording.cancelled_in_sleep` names that attempt.

When the recorded run halted (``run_aborting``: a failure under ``abort``, a cancel, the
deadline), which tasks were running, done or never started at that moment depended on
timing. :attr:`Recording.steps` is the recorded order a replay has to follow to land on
the same moment (see :mod:`._conductor`): launches (``task_running``, and a
``bad_reference`` failure at launch time), the ends of calls, grouped as the run's loop
could have seen them together (no launch between them), and a cancel or deadline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from planexec.registry import ToolCallError, ToolErrorCode, ToolResult
from planexec.schemas import PlanObject

__all__ = [
    "Boundary",
    "CallKey",
    "Group",
    "Halt",
    "HaltKind",
    "RecordedCall",
    "Recording",
    "Step",
    "call_key",
]

CallKey = tuple[str, bool, int]
"""(task id, is a compensation call, attempt n)."""

_TASK_ID = "planexec/task_id"
_ATTEMPT = "planexec/attempt"
_KEY = "planexec/idempotency_key"
_CANCELLED = "cancelled"
_TOOL_CODES = frozenset(ToolErrorCode)


def call_key(meta: Mapping[str, Any]) -> CallKey:
    """The key of a call from the ``_meta`` the executor gives it."""
    compensation = str(meta.get(_KEY, "")).endswith(":compensation")  # task ids have no ':'
    return str(meta[_TASK_ID]), compensation, int(meta[_ATTEMPT])


@dataclass(frozen=True, slots=True)
class RecordedCall:
    arguments: Any
    output: Any
    error: Mapping[str, Any] | None

    @property
    def cut_short(self) -> bool:
        return self.error is not None and self.error.get("code") == _CANCELLED

    def result(self) -> ToolResult:
        """The recorded outcome as a tool answer the executor turns back into the same
        attempt: an output through DESIGN §3's extraction (an object as structured
        content, any other value as one JSON text block), a ``tool_error`` as an isError
        result, other codes as a ToolCallError with the code and retryable flag."""
        error = self.error
        if error is None:
            if isinstance(self.output, dict):
                return ToolResult(structured_content=self.output)
            return ToolResult(content=[{"type": "text", "text": json.dumps(self.output)}])
        message = str(error.get("message", ""))
        retryable = bool(error.get("retryable", False))
        detail = dict(error.get("detail") or {})
        code = error.get("code")
        if code in _TOOL_CODES and code != ToolErrorCode.TOOL_ERROR:
            raise ToolCallError(ToolErrorCode(code), message, retryable=retryable, detail=detail)
        body = {**detail, "code": code, "message": message, "retryable": retryable}
        return ToolResult(content=[{"type": "text", "text": message}], structured_content=body, is_error=True)


class HaltKind(StrEnum):
    CANCEL = "cancel"
    DEADLINE = "deadline"


@dataclass(frozen=True, slots=True)
class Boundary:
    """The replayed run must have emitted this (event type, task id) first."""

    event: tuple[str, str]


@dataclass(frozen=True, slots=True)
class Group:
    """Calls that end together: released at once, once every one of them is waiting."""

    keys: tuple[CallKey, ...]


@dataclass(frozen=True, slots=True)
class Halt:
    """The recorded run was cancelled or met its deadline here."""

    kind: HaltKind


Step = Boundary | Group | Halt


@dataclass(frozen=True, slots=True)
class Recording:
    calls: Mapping[CallKey, RecordedCall]
    cancelled_in_sleep: frozenset[CallKey]
    denied: frozenset[str]
    """Tools the recorded run was not permitted to use (tasks failed before any call)."""
    idempotent: Mapping[str, bool]
    """Per tool, whether its timeouts were retryable, where the record shows it."""
    steps: tuple[Step, ...]
    """Empty when the recorded run never halted: then timing decided nothing."""

    @classmethod
    def of(
        cls, record: Mapping[str, Any], events: Sequence[Mapping[str, Any]], plan: PlanObject
    ) -> Recording:
        calls: dict[CallKey, RecordedCall] = {}
        in_sleep: set[CallKey] = set()
        denied: set[str] = set()
        idempotent: dict[str, bool] = {}
        for tid, task in (record.get("tasks") or {}).items():
            planned = plan.tasks.get(tid)
            attempts = list(task.get("attempts") or ())
            undo = task.get("compensation") or {}
            for compensation, group in ((False, attempts), (True, list(undo.get("attempts") or ()))):
                for attempt in group:
                    key = (tid, compensation, int(attempt["n"]))
                    calls[key] = RecordedCall(
                        attempt.get("arguments"), attempt.get("output"), attempt.get("error")
                    )
                    error = attempt.get("error") or {}
                    if (
                        planned is not None
                        and error.get("code") == "timeout"
                        and not planned.retry_after_timeout
                    ):
                        comp = planned.compensation
                        tool = comp.tool_name if compensation and comp else planned.tool_name
                        idempotent[tool] = bool(error.get("retryable"))
            last = attempts[-1] if attempts else None
            if task.get("status") == _CANCELLED and last is not None and last.get("error") is not None:
                if last["error"].get("code") != _CANCELLED:
                    in_sleep.add((tid, False, int(last["n"])))
            if planned is not None:
                if not attempts and _code(task.get("error")) == "tool_not_permitted":
                    denied.add(planned.tool_name)
                if (
                    planned.compensation
                    and not undo.get("attempts")
                    and _code(undo.get("error")) == ("tool_not_permitted")
                ):
                    denied.add(planned.compensation.tool_name)
        halted = any(event.get("type") == "run_aborting" for event in events)
        steps = _steps(events, calls) if halted else ()
        return cls(calls, frozenset(in_sleep), frozenset(denied), idempotent, steps)


def _code(error: Any) -> Any:
    return error.get("code") if isinstance(error, Mapping) else None


def _steps(events: Sequence[Mapping[str, Any]], calls: Mapping[CallKey, RecordedCall]) -> tuple[Step, ...]:
    steps: list[Step] = []
    group: list[CallKey] = []

    def close_group() -> None:
        if group:
            steps.append(Group(tuple(group)))
            group.clear()

    for event in sorted(events, key=lambda e: int(e["seq"])):
        kind, tid, n = event.get("type"), event.get("task_id"), event.get("attempt")
        detail = event.get("detail") or {}
        end: CallKey | None = None
        if kind == "task_running" and tid is not None:
            close_group()
            steps.append(Boundary(("task_running", tid)))
        elif kind == "task_failed" and tid is not None and n is None:
            if _code(detail.get("error")) == "bad_reference":  # at launch: the loop's turn
                close_group()
                steps.append(Boundary(("task_failed", tid)))
        elif (
            kind == "attempt_failed" and tid is not None and n is not None and not detail.get("compensation")
        ):
            end = (tid, False, int(n))
        elif kind in ("task_succeeded", "task_failed") and tid is not None and n is not None:
            end = (tid, False, int(n))
        elif kind == "run_aborting":
            error = detail.get("error") or {}
            if error.get("code") == "deadline_exceeded":
                close_group()
                steps.append(Halt(HaltKind.DEADLINE))
            elif "failed_task" not in (error.get("detail") or {}):
                close_group()
                steps.append(Halt(HaltKind.CANCEL))
        if end is not None and end in calls and not calls[end].cut_short:
            if (end[0], end[1], end[2] - 1) in group:  # its call starts once the retried one ends
                close_group()
            group.append(end)
    close_group()
    return tuple(steps)
