"""``planexec validate`` end to end: the installed console script in a subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PLANEXEC = shutil.which("planexec", path=str(Path(sys.executable).parent)) or "planexec"

GOOD = {
    "tasks": {
        "a": {"tool_name": "add", "parameters": {"a": 1, "b": 2}, "dependencies": []},
        "b": {"tool_name": "echo", "parameters": {"value": "$<a.output.result>"}, "dependencies": ["a"]},
    }
}


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([PLANEXEC, *args], input=stdin, capture_output=True, timeout=60, check=False)


def json_out(proc: subprocess.CompletedProcess[bytes]) -> Any:
    return json.loads(proc.stdout)  # exactly one JSON document, nothing else on stdout


def test_valid_plan_exits_0_with_the_normalised_plan(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(GOOD))
    proc = run("validate", str(path), "--json")
    assert proc.returncode == 0
    body = json_out(proc)
    assert body["valid"] is True and body["errors"] == []
    assert set(body["plan"]["tasks"]) == {"a", "b"}
    assert [w["code"] for w in body["warnings"]] == ["assigned_plan_id"]


def test_invalid_plan_exits_1_with_every_error(tmp_path: Path) -> None:
    plan = json.loads(json.dumps(GOOD))
    plan["tasks"]["a"]["tool_name"] = "ad"
    plan["tasks"]["b"]["dependencies"] = ["ghost"]
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    proc = run("validate", str(path), "--json")
    assert proc.returncode == 1
    body = json_out(proc)
    assert body["valid"] is False and body["plan"] is None
    assert sorted(e["code"] for e in body["errors"]) == ["unknown_dependency", "unknown_tool"]
    assert all(set(e) == {"code", "path", "message", "hint", "detail"} for e in body["errors"])


def test_human_report_points_at_the_task_and_field(tmp_path: Path) -> None:
    plan = json.loads(json.dumps(GOOD))
    plan["tasks"]["a"]["tool_name"] = "ad"
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    proc = run("validate", str(path))
    assert proc.returncode == 1
    out = proc.stdout.decode()
    assert "unknown_tool" in out and "tasks › a › tool_name" in out


def test_yaml_file_and_stdin_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text("tasks:\n  a: {tool_name: echo, parameters: {value: 1}, dependencies: []}\n")
    assert run("validate", str(path)).returncode == 0
    assert run("validate", "-", stdin=json.dumps(GOOD).encode()).returncode == 0


def _deep(levels: int) -> bytes:
    value = "[" * levels + "]" * levels
    return (
        '{"tasks":{"a":{"tool_name":"echo","parameters":{"value":' + value + '},"dependencies":[]}}}'
    ).encode()


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b'{"tasks": {"a": {"tool_name": "ec', "invalid_json"),
        (bytes(range(256)) * 40, "invalid_json"),
        (b"\x89PNG\r\n\x1a\n" + b"\xff" * 100, "invalid_json"),
        (_deep(10_000), "plan_too_large"),
    ],
    ids=["truncated", "binary", "png-header", "nested-10000"],
)
def test_bad_input_is_a_structured_error_with_exit_1(tmp_path: Path, content: bytes, code: str) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(content)
    proc = run("validate", str(path), "--json")
    assert proc.returncode == 1, proc.stderr
    assert [e["code"] for e in json_out(proc)["errors"]] == [code]


def test_a_50_megabyte_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as stream:
        stream.write(b'{"tasks": {"a": {"tool_name": "echo", "parameters": {"value": "')
        stream.write(b"x" * (50 * 1024 * 1024))
        stream.write(b'"}, "dependencies": []}}}')
    proc = run("validate", str(path), "--json")
    assert proc.returncode == 1
    [error] = json_out(proc)["errors"]
    assert error["code"] == "plan_too_large"


def test_limits_are_configurable(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(GOOD))
    proc = run("validate", str(path), "--json", "--max-tasks", "1")
    assert proc.returncode == 1
    assert [e["code"] for e in json_out(proc)["errors"]] == ["plan_too_large"]


@pytest.mark.parametrize(
    "args",
    [("validate", "/no/such/plan.json"), ("validate", "-", "--tools", "nonsense"), ("validate",), ("bogus",)],
    ids=["missing-file", "bad-tools", "no-plan", "unknown-command"],
)
def test_usage_errors_exit_2_with_nothing_on_stdout(args: tuple[str, ...]) -> None:
    proc = run(*args, "--json") if args[0] == "validate" and len(args) > 1 else run(*args)
    assert proc.returncode == 2
    assert proc.stdout == b""


def test_python_module_tools_are_loaded(tmp_path: Path) -> None:
    (tmp_path / "mytools.py").write_text(
        "async def shout(text: str) -> str:\n    return text.upper()\n\nTOOLS = [shout]\n"
    )
    plan = {"tasks": {"s": {"tool_name": "shout", "parameters": {"text": 1}, "dependencies": []}}}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    proc = subprocess.run(
        [PLANEXEC, "validate", str(path), "--json", "--tools", "python:mytools"],
        capture_output=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": str(Path(sys.executable).parent)},
    )
    assert proc.returncode == 1, proc.stderr
    assert [e["code"] for e in json_out(proc)["errors"]] == ["invalid_arguments"]
