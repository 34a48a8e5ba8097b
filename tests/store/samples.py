"""Sample data for store tests, shaped as the executor and planner write it (DESIGN §5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from planexec.store import PlanEntry

__all__ = ["T0", "at", "event", "iso", "plan", "run_record"]

T0 = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def iso(seconds: float) -> str:
    """The executor's timestamp format: UTC, microseconds, ``Z``."""
    return at(seconds).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def plan(plan_id: str, *, user: str | None = "alice", created: float = 0, goal: str = "g") -> PlanEntry:
    return PlanEntry(
        plan_id=plan_id,
        user=user,
        created_at=at(created),
        plan={
            "plan_id": plan_id,
            "goal": goal,
            "tasks": {"a": {"tool_name": "echo", "parameters": {"value": "ü" * 3}, "dependencies": []}},
        },
        provenance={"model": "scripted", "prompt_sha256": "ab" * 32, "principal": user},
    )


def _attempt(
    n: int, start: float, *, output: Any = None, error: dict[str, Any] | None = None
) -> dict[str, Any]:
    attempt: dict[str, Any] = {
        "n": n,
        "arguments": {"value": n},
        "started_at": iso(start),
        "finished_at": iso(start + 0.5),
    }
    if error is not None:
        attempt["error"] = error
    else:
        attempt["output"] = output
    return attempt


_TIMEOUT = {"code": "timeout", "message": "took too long", "retryable": True, "detail": {}}


def run_record(
    run_id: str,
    *,
    plan_id: str = "p1",
    status: str = "succeeded",
    started: float = 0,
    finished: float | None = 10,
    output: Any = "done",
) -> dict[str, Any]:
    """A run of three tasks: ``fetch`` succeeds on its second attempt, ``mail`` succeeds
    and is then compensated in two attempts, ``skip`` never runs."""
    return {
        "run_id": run_id,
        "plan_id": plan_id,
        "status": status,
        "output": output,
        "error": None,
        "started_at": iso(started),
        "finished_at": None if finished is None else iso(finished),
        "tasks": {
            "fetch": {
                "status": "succeeded",
                "attempts": [
                    _attempt(1, started, error=_TIMEOUT),
                    _attempt(2, started + 1, output={"rows": [1, 2, 3]}),
                ],
                "output": {"rows": [1, 2, 3]},
                "error": None,
                "handled_by": None,
                "compensation": None,
            },
            "mail": {
                "status": "compensated",
                "attempts": [_attempt(1, started + 2, output={"message_id": "m-1"})],
                "output": {"message_id": "m-1"},
                "error": None,
                "handled_by": None,
                "compensation": {
                    "status": "succeeded",
                    "attempts": [
                        _attempt(1, started + 3, error=_TIMEOUT),
                        _attempt(2, started + 4, output=None),
                    ],
                    "started_at": iso(started + 3),
                    "finished_at": iso(started + 5),
                    "error": None,
                },
            },
            "skip": {
                "status": "skipped",
                "attempts": [],
                "output": None,
                "error": None,
                "handled_by": None,
                "compensation": None,
            },
        },
    }


def event(
    run_id: str, seq: int, *, type: str = "task_running", task_id: str | None = "fetch"
) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": iso(seq),
        "run_id": run_id,
        "task_id": task_id,
        "type": type,
        "attempt": 1,
        "detail": {"seq": seq},
    }
