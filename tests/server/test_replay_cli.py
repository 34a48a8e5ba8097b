"""``planexec replay``: recorded (no tool called) and ``--live --from TASK``, against runs
that ``planexec run`` stored. The installed console script in a subprocess."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from planexec.store import open_store

from .cli import ARITHMETIC, WRITE_THEN_FAIL, json_out, planexec, run_json, store_url, write_plan

COUNTED = {
    "tasks": {
        "first": {"tool_name": "bump", "parameters": {"n": 1}, "dependencies": []},
        "second": {"tool_name": "bump", "parameters": {"n": "$<first.output.n>"}, "dependencies": ["first"]},
    },
    "output": "$<second.output.n>",
}


@pytest.fixture
def counted_tools(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A ``python:counted`` tool source whose ``bump`` logs every call to a file."""
    calls = tmp_path / "calls.log"
    calls.touch()
    (tmp_path / "counted.py").write_text(
        "from pathlib import Path\n\n"
        f"CALLS = Path({str(calls)!r})\n\n\n"
        "def bump(n: int) -> dict[str, int]:\n"
        "    with CALLS.open('a') as log:\n"
        "        log.write(f'{n}\\n')\n"
        "    return {'n': n + 1}\n\n\n"
        "TOOLS = [bump]\n"
    )
    return {"PYTHONPATH": str(tmp_path)}, calls


def _edit_stored_output(url: str, run_id: str, task_id: str, output: Any) -> None:
    async def edit() -> None:
        async with open_store(url) as store:
            record = await store.get_run("local", run_id)
            record["tasks"][task_id]["output"] = output
            await store.save_run("local", record)

    anyio.run(edit)


@pytest.mark.parametrize("plan", [ARITHMETIC, WRITE_THEN_FAIL], ids=["succeeded", "failed-compensated"])
def test_recorded_replay_is_identical_and_exits_0(tmp_path: Path, plan: dict[str, Any]) -> None:
    url = store_url(tmp_path)
    record = run_json(write_plan(tmp_path, plan), url)
    proc = planexec("replay", record["run_id"], "--json", "--store", url)
    assert proc.returncode == 0, proc.stderr
    body = json_out(proc)
    assert set(body) == {"status", "output", "identical", "divergence", "run_id", "replay_of"}
    assert (body["identical"], body["divergence"]) == (True, None)
    assert (body["status"], body["output"]) == (record["status"], record["output"])
    assert body["replay_of"] == record["run_id"] and body["run_id"] != record["run_id"]
    human = planexec("replay", record["run_id"], "--store", url)
    assert human.returncode == 0


def test_recorded_replay_calls_no_tool(tmp_path: Path, counted_tools: tuple[dict[str, str], Path]) -> None:
    env, calls = counted_tools
    url = store_url(tmp_path)
    record = run_json(write_plan(tmp_path, COUNTED), url, "--tools", "python:counted", env=env)
    assert (record["output"], calls.read_text()) == (3, "1\n2\n")
    proc = planexec("replay", record["run_id"], "--json", "--store", url, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json_out(proc)["output"] == 3
    assert calls.read_text() == "1\n2\n"


def test_an_edited_stored_output_is_the_first_divergence(tmp_path: Path) -> None:
    url = store_url(tmp_path)
    record = run_json(write_plan(tmp_path, ARITHMETIC), url)
    _edit_stored_output(url, record["run_id"], "sum", {"result": 99})

    proc = planexec("replay", record["run_id"], "--json", "--store", url)
    assert proc.returncode == 1, proc.stderr
    body = json_out(proc)
    assert body["identical"] is False
    divergence = body["divergence"]
    assert (divergence["task_id"], divergence["field"]) == ("sum", "output")
    assert {divergence["recorded"]["result"], divergence["replayed"]["result"]} == {99, 5}

    human = planexec("replay", record["run_id"], "--store", url)
    assert human.returncode == 1
    report = human.stdout.decode()
    assert "sum" in report and "output" in report and "99" in report and "5" in report


def test_live_replay_calls_tools_from_the_task_on(
    tmp_path: Path, counted_tools: tuple[dict[str, str], Path]
) -> None:
    env, calls = counted_tools
    url = store_url(tmp_path)
    record = run_json(write_plan(tmp_path, COUNTED), url, "--tools", "python:counted", env=env)
    proc = planexec(
        "replay", record["run_id"], "--live", "--from", "second", "--tools", "python:counted",
        "--json", "--store", url, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    body = json_out(proc)
    assert (body["identical"], body["output"]) == (True, 3)
    assert calls.read_text() == "1\n2\n2\n"  # "first" came from the record, "second" was called


def test_live_replay_reports_a_live_result_that_differs(tmp_path: Path) -> None:
    url = store_url(tmp_path)
    record = run_json(write_plan(tmp_path, ARITHMETIC), url)
    _edit_stored_output(url, record["run_id"], "double", {"result": 11})
    proc = planexec("replay", record["run_id"], "--live", "--from", "double", "--json", "--store", url)
    assert proc.returncode == 1, proc.stderr
    divergence = json_out(proc)["divergence"]
    assert (divergence["task_id"], divergence["field"]) == ("double", "output")


@pytest.mark.parametrize(
    "args",
    [
        ("--live",),
        ("--from", "sum"),
        ("--live", "--from", "ghost"),
        ("--live", "--from", "sum", "--tools", "x"),
    ],
    ids=["live-without-from", "from-without-live", "unknown-task", "bad-tools"],
)
def test_replay_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    url = store_url(tmp_path)
    record = run_json(write_plan(tmp_path, ARITHMETIC), url)
    proc = planexec("replay", record["run_id"], *args, "--json", "--store", url)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == b""
