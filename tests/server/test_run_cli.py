"""``planexec run`` end to end: the installed console script in a subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

PLANEXEC = shutil.which("planexec", path=str(Path(sys.executable).parent)) or "planexec"

ARITHMETIC = {
    "inputs": {"x": 2},
    "tasks": {
        "sum": {"tool_name": "add", "parameters": {"a": "$<inputs.x>", "b": 3}, "dependencies": []},
        "double": {
            "tool_name": "multiply",
            "parameters": {"a": "$<sum.output.result>", "b": 2},
            "dependencies": ["sum"],
        },
    },
    "output": "$<double.output.result>",
}

WRITE_THEN_FAIL = {
    "tasks": {
        "write": {
            "tool_name": "ledger_write",
            "parameters": {"key": "k", "value": 1},
            "dependencies": [],
            "compensation": {"tool_name": "ledger_delete", "parameters": {"key": "$<write.output.key>"}},
        },
        "check": {"tool_name": "fail", "parameters": {"message": "no"}, "dependencies": ["write"]},
    }
}


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([PLANEXEC, "run", *args], input=stdin, capture_output=True, timeout=60, check=False)


def write(tmp_path: Path, plan: dict[str, Any]) -> str:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    return str(path)


def test_successful_run_exits_0_and_prints_only_the_run_record(tmp_path: Path) -> None:
    proc = run(write(tmp_path, ARITHMETIC), "--json")
    assert proc.returncode == 0
    record = json.loads(proc.stdout)
    assert list(record) == [
        "run_id",
        "plan_id",
        "status",
        "output",
        "error",
        "started_at",
        "finished_at",
        "tasks",
    ]
    assert (record["status"], record["output"], record["error"]) == ("succeeded", 10, None)
    assert record["tasks"]["double"]["attempts"][0]["arguments"] == {"a": 5, "b": 2}


def test_inputs_option_overrides_the_plans_inputs(tmp_path: Path) -> None:
    proc = run(write(tmp_path, ARITHMETIC), "--json", "--inputs", '{"x": 10}')
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["output"] == 26


def test_plan_from_stdin(tmp_path: Path) -> None:
    proc = run("-", "--json", stdin=json.dumps(ARITHMETIC).encode())
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["output"] == 10


def test_failed_run_exits_1_after_compensating(tmp_path: Path) -> None:
    proc = run(write(tmp_path, WRITE_THEN_FAIL), "--json")
    assert proc.returncode == 1
    record = json.loads(proc.stdout)
    assert record["status"] == "failed"
    assert record["error"]["code"] == "tool_error"
    assert record["tasks"]["write"]["status"] == "compensated"
    assert record["tasks"]["write"]["compensation"]["attempts"][0]["output"] == {"key": "k", "deleted": True}


def test_invalid_plan_exits_1_with_its_errors_and_runs_nothing(tmp_path: Path) -> None:
    plan = json.loads(json.dumps(WRITE_THEN_FAIL))
    plan["tasks"]["check"]["tool_name"] = "nope"
    proc = run(write(tmp_path, plan), "--json")
    assert proc.returncode == 1
    body = json.loads(proc.stdout)
    assert body["valid"] is False
    assert [e["code"] for e in body["errors"]] == ["unknown_tool"]
    assert "tasks" not in body


def test_human_output_lists_every_task_and_the_run_status(tmp_path: Path) -> None:
    proc = run(write(tmp_path, ARITHMETIC))
    assert proc.returncode == 0
    lines = proc.stdout.decode().splitlines()
    assert [line.split()[:3] for line in lines[1:3]] == [
        ["sum", "add", "succeeded"],
        ["double", "multiply", "succeeded"],
    ]
    assert lines[3].split()[:2] == ["run", "succeeded"]


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, ARITHMETIC)
    assert run(path, "--inputs", "[1, 2]").returncode == 2
    assert run(path, "--inputs", "{not json").returncode == 2
    assert run(path, "--tools", "nowhere").returncode == 2
    assert run(str(tmp_path / "missing.json")).returncode == 2
