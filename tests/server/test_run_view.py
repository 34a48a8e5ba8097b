"""The pure parts of ``runs show`` and ``runs diff``: the timeline and the differences."""

from __future__ import annotations

import copy
from typing import Any

from planexec.server._run_diff import Difference, diff_runs
from planexec.server._run_view import Bar, timeline


def _at(seconds: float) -> str:
    return f"2026-01-31T12:00:{seconds:09.6f}Z"


def _attempt(n: int, start: float, end: float, *, failed: bool = False) -> dict[str, Any]:
    outcome: dict[str, Any] = {"error": {"code": "tool_error"}} if failed else {"output": n}
    return {"n": n, "arguments": {}, "started_at": _at(start), "finished_at": _at(end), **outcome}


RECORD: dict[str, Any] = {
    "run_id": "r",
    "plan_id": "p",
    "status": "failed",
    "output": None,
    "error": {"code": "tool_error", "message": "no", "retryable": False, "detail": {}},
    "started_at": _at(0),
    "finished_at": _at(10),
    "tasks": {
        "a": {
            "status": "compensated",
            "attempts": [_attempt(1, 0, 5)],
            "output": 1,
            "error": None,
            "handled_by": None,
            "compensation": {"status": "succeeded", "attempts": [_attempt(1, 9, 10)], "error": None},
        },
        "b": {
            "status": "failed",
            "attempts": [_attempt(1, 5, 6, failed=True), _attempt(2, 6, 8, failed=True)],
            "output": None,
            "error": {"code": "tool_error"},
            "handled_by": None,
            "compensation": None,
        },
        "c": {"status": "skipped", "attempts": [], "output": None, "error": None, "compensation": None},
    },
}


def test_timeline_scales_attempts_to_the_run_and_marks_failed_ones() -> None:
    bars, span = timeline(RECORD, width=10)
    assert span == 10.0
    assert bars == [
        Bar("a", "█████     "),
        Bar("a (undo)", "         █"),
        Bar("b", "     ▒▒▒  "),
        Bar("c", "          "),
    ]


def test_timeline_of_a_running_run_spans_to_the_last_finished_attempt() -> None:
    running = copy.deepcopy(RECORD) | {"finished_at": None, "status": "running"}
    bars, span = timeline(running, width=10)
    assert span == 10.0  # the compensation's attempt finished at 10 s


def test_timeline_shows_every_attempt_at_least_one_column_wide() -> None:
    record = copy.deepcopy(RECORD)
    record["tasks"]["c"]["attempts"] = [_attempt(1, 3.0, 3.0001)]
    bars, _ = timeline(record, width=10)
    assert bars[-1] == Bar("c", "   █      ")


def test_timeline_without_times_is_empty() -> None:
    assert timeline({"tasks": {}}) == ([], 0.0)
    assert timeline({"started_at": "garbage", "tasks": RECORD["tasks"]}) == ([], 0.0)


def test_equal_records_have_no_differences_whatever_their_ids_and_times() -> None:
    other = copy.deepcopy(RECORD) | {"run_id": "s", "started_at": _at(1), "finished_at": _at(20)}
    assert diff_runs(RECORD, other) == []


def test_differences_come_run_first_then_tasks_in_order() -> None:
    other = copy.deepcopy(RECORD)
    other["status"] = "succeeded"
    other["tasks"]["b"]["attempts"].pop()
    other["tasks"]["a"]["compensation"] = None
    del other["tasks"]["c"]
    other["tasks"]["d"] = {"status": "succeeded", "attempts": []}
    assert diff_runs(RECORD, other) == [
        Difference(None, "status", "failed", "succeeded"),
        Difference("a", "compensation", "succeeded", None),
        Difference("b", "attempts", 2, 1),
        Difference("c", "present", True, False),
        Difference("d", "present", False, True),
    ]


def test_values_compare_as_json_where_types_matter_and_key_order_does_not() -> None:
    a = {"status": "succeeded", "output": {"x": 1, "y": [True]}, "tasks": {}}
    assert diff_runs(a, {"status": "succeeded", "output": {"y": [True], "x": 1}, "tasks": {}}) == []
    for other in ({"x": 1.0, "y": [True]}, {"x": True, "y": [True]}, {"x": 1, "y": [1]}):
        assert [d.field for d in diff_runs(a, a | {"output": other})] == ["output"]
