"""``planexec run`` stores its runs; ``planexec runs list|show|diff`` read them back; store
selection, errors and tenants. The installed console script in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from planexec.store import open_store

from .cli import ARITHMETIC, WRITE_THEN_FAIL, json_out, planexec, run_json, store_url, write_plan


def _list(url: str, *extra: str, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    proc = planexec("runs", "list", "--json", "--store", url, *extra, env=env)
    assert proc.returncode == 0, proc.stderr
    runs: list[dict[str, Any]] = json_out(proc)
    return runs


def test_run_stores_the_run_and_its_plan_with_cli_provenance(tmp_path: Path) -> None:
    url = store_url(tmp_path)
    plan_path = write_plan(tmp_path, ARITHMETIC)
    record = run_json(plan_path, url, env={"PLANEXEC_USER": "ada"})

    async def stored() -> tuple[dict[str, Any], Any]:
        async with open_store(url) as store:
            run = await store.get_run("local", record["run_id"])
            return run, await store.get_plan("local", record["plan_id"])

    run, plan = anyio.run(stored)
    assert run == record
    assert plan.provenance == {"source": "cli", "file": plan_path}
    assert plan.user == "ada"
    assert set(plan.plan["tasks"]) == {"sum", "double"}


def test_run_prints_the_run_id_in_human_mode(tmp_path: Path) -> None:
    url = store_url(tmp_path)
    proc = planexec("run", write_plan(tmp_path, ARITHMETIC), "--store", url)
    assert proc.returncode == 0
    [summary] = _list(url)
    assert summary["run_id"] in proc.stdout.decode()


def test_store_comes_from_planexec_store_and_defaults_to_the_data_directory(
    tmp_path: Path, isolated_environment: Path
) -> None:
    plan_path = write_plan(tmp_path, ARITHMETIC)
    url = store_url(tmp_path)
    assert planexec("run", plan_path, "--json", env={"PLANEXEC_STORE": url}).returncode == 0
    assert len(_list(url)) == 1
    assert planexec("run", plan_path, "--json").returncode == 0
    assert (isolated_environment / "data" / "planexec" / "planexec.db").is_file()
    proc = planexec("runs", "list", "--json")
    assert proc.returncode == 0
    assert len(json_out(proc)) == 1  # the default store holds only the second run


def test_runs_list_is_newest_first_and_filters_by_status(tmp_path: Path) -> None:
    url = store_url(tmp_path)
    first = run_json(write_plan(tmp_path, ARITHMETIC), url)
    failed = run_json(write_plan(tmp_path, WRITE_THEN_FAIL, "fail.json"), url)
    last = run_json(write_plan(tmp_path, ARITHMETIC), url)

    runs = _list(url)
    assert [r["run_id"] for r in runs] == [last["run_id"], failed["run_id"], first["run_id"]]
    assert all(list(r) == ["run_id", "plan_id", "status", "started_at", "finished_at", "user"] for r in runs)
    assert runs[1] | {"user": None} == {
        "run_id": failed["run_id"],
        "plan_id": failed["plan_id"],
        "status": "failed",
        "started_at": failed["started_at"],
        "finished_at": failed["finished_at"],
        "user": None,
    }
    assert [r["run_id"] for r in _list(url, "--status", "failed")] == [failed["run_id"]]
    assert [r["run_id"] for r in _list(url, "--status", "succeeded", "--limit", "1")] == [last["run_id"]]
    assert _list(url, "--status", "cancelled") == []
    assert planexec("runs", "list", "--status", "bogus", "--store", url).returncode == 2


def test_runs_list_human_table_shows_whole_run_ids(tmp_path: Path) -> None:
    url = store_url(tmp_path)
    record = run_json(write_plan(tmp_path, WRITE_THEN_FAIL), url)
    proc = planexec("runs", "list", "--store", url)
    assert proc.returncode == 0
    [row] = [line.split() for line in proc.stdout.decode().splitlines() if record["run_id"] in line]
    assert row[:2] == [record["run_id"], "failed"]


@pytest.mark.parametrize("plan", [ARITHMETIC, WRITE_THEN_FAIL], ids=["succeeded", "failed"])
def test_runs_show_json_is_the_record_run_printed(tmp_path: Path, plan: dict[str, Any]) -> None:
    url = store_url(tmp_path)
    record = run_json(write_plan(tmp_path, plan), url)
    proc = planexec("runs", "show", record["run_id"], "--json", "--store", url)
    assert proc.returncode == 0
    assert json_out(proc) == record


def test_runs_show_human_has_tasks_attempts_and_a_timeline(tmp_path: Path) -> None:
    url = store_url(tmp_path)
    record = run_json(write_plan(tmp_path, WRITE_THEN_FAIL), url)
    proc = planexec("runs", "show", record["run_id"], "--store", url)
    assert proc.returncode == 0
    lines = proc.stdout.decode().splitlines()
    rows = {tuple(line.split()[:3]) for line in lines}
    assert ("write", "compensated", "1") in rows
    assert ("check", "failed", "1") in rows
    assert ("write", "(undo)", "1") in rows  # the compensation's attempt
    timeline = lines[next(i for i, line in enumerate(lines) if line.startswith("timeline")) :]
    assert {line.split()[0] for line in timeline[2:] if line.strip()} == {"write", "check"}
    assert all("|" in line for line in timeline[2:] if line.strip())


def test_runs_diff_of_equal_runs_exits_0(tmp_path: Path) -> None:
    url = store_url(tmp_path)
    plan_path = write_plan(tmp_path, ARITHMETIC)
    a, b = run_json(plan_path, url), run_json(plan_path, url)
    proc = planexec("runs", "diff", a["run_id"], b["run_id"], "--json", "--store", url)
    assert proc.returncode == 0
    assert json_out(proc) == {"a": a["run_id"], "b": b["run_id"], "equal": True, "differences": []}
    assert planexec("runs", "diff", a["run_id"], b["run_id"], "--store", url).returncode == 0


def test_runs_diff_of_different_runs_exits_1_with_each_difference(tmp_path: Path) -> None:
    url = store_url(tmp_path)
    plan_path = write_plan(tmp_path, ARITHMETIC)
    a = run_json(plan_path, url)
    b = run_json(plan_path, url, "--inputs", '{"x": 10}')
    proc = planexec("runs", "diff", a["run_id"], b["run_id"], "--json", "--store", url)
    assert proc.returncode == 1
    body = json_out(proc)
    assert body["equal"] is False
    assert [(d["task_id"], d["field"], d["a"], d["b"]) for d in body["differences"]] == [
        (None, "output", 10, 26),
        ("sum", "output", {"result": 5}, {"result": 13}),
        ("double", "output", {"result": 10}, {"result": 26}),
    ]
    human = planexec("runs", "diff", a["run_id"], b["run_id"], "--store", url)
    assert human.returncode == 1
    assert any(line.split()[:2] == ["sum", "output"] for line in human.stdout.decode().splitlines())


def test_runs_diff_reports_status_error_attempts_and_missing_tasks(tmp_path: Path) -> None:
    url = store_url(tmp_path)
    a = run_json(write_plan(tmp_path, ARITHMETIC), url)
    b = run_json(write_plan(tmp_path, WRITE_THEN_FAIL, "fail.json"), url)
    proc = planexec("runs", "diff", a["run_id"], b["run_id"], "--json", "--store", url)
    assert proc.returncode == 1
    fields = {(d["task_id"], d["field"]) for d in json_out(proc)["differences"]}
    assert {(None, "status"), (None, "output"), (None, "error")} <= fields
    assert {("sum", "present"), ("write", "present"), ("check", "present")} <= fields


@pytest.mark.parametrize(
    "args",
    [("runs", "show", "nope"), ("runs", "diff", "nope", "nada"), ("replay", "nope"), ("graph", "nope")],
    ids=["show", "diff", "replay", "graph"],
)
def test_unknown_run_id_exits_1_with_a_not_found_error(tmp_path: Path, args: tuple[str, ...]) -> None:
    url = store_url(tmp_path)
    proc = planexec(*args, "--store", url)
    assert proc.returncode == 1
    assert b"Traceback" not in proc.stderr and b"nope" in proc.stderr
    if args[0] != "graph":
        proc = planexec(*args, "--store", url, "--json")
        assert proc.returncode == 1
        assert json_out(proc)["error"]["code"] == "not_found"


def test_a_run_of_tenant_a_is_not_found_under_tenant_b(tmp_path: Path) -> None:
    url = store_url(tmp_path)
    record = run_json(write_plan(tmp_path, ARITHMETIC), url, env={"PLANEXEC_TENANT": "a"})
    as_a, as_b = {"PLANEXEC_TENANT": "a"}, {"PLANEXEC_TENANT": "b"}
    assert [r["run_id"] for r in _list(url, env=as_a)] == [record["run_id"]]
    assert _list(url, env=as_b) == []
    assert _list(url) == []  # the default tenant, "local"
    for args in (("runs", "show", record["run_id"]), ("replay", record["run_id"])):
        assert planexec(*args, "--json", "--store", url, env=as_a).returncode == 0, args
        denied = planexec(*args, "--json", "--store", url, env=as_b)
        assert denied.returncode == 1, args
        assert json_out(denied)["error"]["code"] == "not_found"
    assert planexec("graph", record["run_id"], "--store", url, env=as_a).returncode == 0
    assert planexec("graph", record["run_id"], "--store", url, env=as_b).returncode == 1


BAD_URLS = [
    "postgres://localhost/x",
    "sqlite://relative.db",
    "redis://localhost:notaport/0",
]


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize(
    "args",
    [("runs", "list"), ("runs", "show", "x"), ("runs", "diff", "x", "y"), ("replay", "x"), ("graph", "x")],
    ids=["list", "show", "diff", "replay", "graph"],
)
def test_a_bad_store_url_is_a_usage_error(tmp_path: Path, url: str, args: tuple[str, ...]) -> None:
    proc = planexec(*args, "--store", url)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == b"" and b"Traceback" not in proc.stderr


def test_a_cluster_url_naming_a_database_is_a_usage_error() -> None:
    proc = planexec("runs", "list", "--store", "redis+cluster://localhost:7000/2")  # database 0 only
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == b"" and b"Traceback" not in proc.stderr


@pytest.mark.parametrize("url", BAD_URLS)
def test_run_with_a_bad_store_url_is_a_usage_error_and_runs_nothing(tmp_path: Path, url: str) -> None:
    proc = planexec("run", write_plan(tmp_path, ARITHMETIC), "--json", env={"PLANEXEC_STORE": url})
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == b""


UNAVAILABLE = "redis://127.0.0.1:1/0"


@pytest.mark.parametrize(
    "args",
    [("runs", "list"), ("runs", "show", "x"), ("runs", "diff", "x", "y"), ("replay", "x"), ("graph", "x")],
    ids=["list", "show", "diff", "replay", "graph"],
)
def test_an_unavailable_store_exits_1_with_a_clear_message(args: tuple[str, ...]) -> None:
    proc = planexec(*args, "--store", UNAVAILABLE)
    assert proc.returncode == 1
    assert b"unavailable" in proc.stderr and b"Traceback" not in proc.stderr
    assert proc.stdout == b""


def test_an_unavailable_store_in_json_mode_prints_an_error_document(tmp_path: Path) -> None:
    for args in (("runs", "list"), ("run", write_plan(tmp_path, ARITHMETIC))):
        proc = planexec(*args, "--json", "--store", UNAVAILABLE)
        assert proc.returncode == 1
        assert json_out(proc)["error"]["code"] == "store_unavailable"
        assert b"Traceback" not in proc.stderr


def test_an_unusable_sqlite_file_is_unavailable_not_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = planexec("runs", "list", "--json", "--store", f"sqlite:///{blocker}/x.db")
    assert proc.returncode == 1
    assert json_out(proc)["error"]["code"] == "store_unavailable"
    assert b"Traceback" not in proc.stderr


def test_a_bad_tenant_setting_is_a_usage_error(tmp_path: Path) -> None:
    proc = planexec("runs", "list", "--store", store_url(tmp_path), env={"PLANEXEC_TENANT": ""})
    assert proc.returncode == 2
    assert b"PLANEXEC_TENANT" in proc.stderr


def test_json_output_is_one_document(tmp_path: Path) -> None:
    url = store_url(tmp_path)
    record = run_json(write_plan(tmp_path, ARITHMETIC), url)
    for args in (("runs", "list"), ("runs", "show", record["run_id"])):
        proc = planexec(*args, "--json", "--store", url)
        json.loads(proc.stdout)  # nothing else on stdout
