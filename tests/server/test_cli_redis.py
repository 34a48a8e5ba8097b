"""The stored-data commands on the Redis store (a real redis-server of the test's own)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..store.redis_server import RedisServer
from .cli import PLANEXEC, WRITE_THEN_FAIL, json_out, planexec, run_json, write_plan

# Twenty short calls in a row: the run writes its events every few milliseconds for a
# couple of seconds, so a store lost in between is noticed at the next write.
# 30 s of 0.1 s steps: long enough that the run is still going when the test (polling
# through fresh CLI processes, slow on a loaded machine) kills redis-server; once it is
# killed, the run stops at the next step's events.
CHAIN: dict[str, Any] = {
    "tasks": {
        f"t{i}": {
            "tool_name": "sleep",
            "parameters": {"seconds": 0.1, "value": i},
            "dependencies": [f"t{i - 1}"] if i else [],
        }
        for i in range(300)
    }
}


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory)
    server.start()
    yield server.url
    server.stop()


def test_every_command_works_on_redis(tmp_path: Path, redis_url: str) -> None:
    env = {"PLANEXEC_STORE": redis_url}
    record = run_json(write_plan(tmp_path, WRITE_THEN_FAIL), redis_url)
    run_id = record["run_id"]
    assert [r["run_id"] for r in json_out(planexec("runs", "list", "--json", env=env))] == [run_id]
    assert json_out(planexec("runs", "show", run_id, "--json", env=env)) == record
    assert planexec("runs", "diff", run_id, run_id, env=env).returncode == 0
    replay = planexec("replay", run_id, "--json", env=env)
    assert replay.returncode == 0, replay.stderr
    assert json_out(replay)["identical"] is True
    graph = planexec("graph", run_id, env=env)
    assert graph.returncode == 0 and b"class t1 failed" in graph.stdout


def test_a_stopped_redis_is_unavailable_exit_1(tmp_path: Path) -> None:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory)
    server.start()
    server.stop()
    proc = planexec("runs", "list", "--json", "--store", server.url)
    assert proc.returncode == 1
    assert json_out(proc)["error"]["code"] == "store_unavailable"
    assert b"Traceback" not in proc.stderr


def test_a_redis_killed_during_a_run_ends_it_with_a_clear_error(tmp_path: Path) -> None:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory, durable=True)
    server.start()
    try:
        running = subprocess.Popen(
            [PLANEXEC, "run", write_plan(tmp_path, CHAIN), "--json", "--store", server.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        started: list[Any] = []
        deadline = time.monotonic() + 30
        while not started and time.monotonic() < deadline and running.poll() is None:
            # polls the store until the run is in it; no sleep orders anything here
            started = json_out(
                planexec("runs", "list", "--json", "--status", "running", "--store", server.url)
            )
        assert started, "the run never showed up in the store"
        server.kill()
        stdout, stderr = running.communicate(timeout=30)
        assert running.returncode == 1
        assert json.loads(stdout)["error"]["code"] == "store_unavailable"
        assert b"Traceback" not in stderr

        server.start()  # the same data directory: what was written before is still there
        shown = planexec("runs", "show", started[0]["run_id"], "--json", "--store", server.url)
        assert shown.returncode == 0
        assert json_out(shown)["status"] == "running"  # as saved when it started; it never finished
    finally:
        server.stop()
