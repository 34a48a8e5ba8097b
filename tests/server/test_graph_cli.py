"""``planexec graph PLAN|RUN_ID``: Mermaid text for a plan file or a stored run."""

from __future__ import annotations

import json
from pathlib import Path

from .cli import ARITHMETIC, WRITE_THEN_FAIL, planexec, run_json, store_url, write_plan


def _class_lines(text: str) -> dict[str, set[str]]:
    """``class t0,t1 succeeded`` lines as {status: {node, ...}}."""
    classes: dict[str, set[str]] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == "class":
            classes.setdefault(words[2], set()).update(words[1].split(","))
    return classes


def test_graph_of_a_plan_file_is_a_flowchart_without_statuses(tmp_path: Path) -> None:
    proc = planexec("graph", write_plan(tmp_path, WRITE_THEN_FAIL))
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.decode()
    assert text.splitlines()[0] == "flowchart TD"
    assert "t0 --> t1" in text and "t0 -. undo .-> t0_undo" in text
    assert "classDef" not in text and _class_lines(text) == {}


def test_graph_reads_a_plan_from_stdin(tmp_path: Path) -> None:
    proc = planexec("graph", "-", stdin=json.dumps(ARITHMETIC).encode())
    assert proc.returncode == 0
    assert proc.stdout.decode().startswith("flowchart TD\n")


def test_graph_of_an_invalid_plan_exits_1_with_its_errors(tmp_path: Path) -> None:
    plan = json.loads(json.dumps(ARITHMETIC))
    plan["tasks"]["double"]["tool_name"] = "nope"
    proc = planexec("graph", write_plan(tmp_path, plan))
    assert proc.returncode == 1
    assert proc.stdout == b"" and b"unknown_tool" in proc.stderr


def test_graph_of_a_run_id_draws_statuses_as_classes(tmp_path: Path) -> None:
    url = store_url(tmp_path)
    record = run_json(write_plan(tmp_path, WRITE_THEN_FAIL), url)
    proc = planexec("graph", record["run_id"], "--store", url)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.decode()
    assert text.startswith("flowchart TD\n")
    assert "classDef failed" in text and "classDef compensated" in text
    assert _class_lines(text) == {"compensated": {"t0"}, "failed": {"t1"}, "succeeded": {"t0_undo"}}


def test_graph_of_a_succeeded_run(tmp_path: Path) -> None:
    url = store_url(tmp_path)
    record = run_json(write_plan(tmp_path, ARITHMETIC), url)
    proc = planexec("graph", record["run_id"], "--store", url)
    assert proc.returncode == 0
    assert _class_lines(proc.stdout.decode()) == {"succeeded": {"t0", "t1"}}


def test_graph_of_a_missing_plan_file_is_a_usage_error(tmp_path: Path) -> None:
    for target in (str(tmp_path / "missing.json"), "missing.yaml"):
        proc = planexec("graph", target)
        assert proc.returncode == 2, target
        assert proc.stdout == b""
