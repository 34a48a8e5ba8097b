"""Running the installed ``planexec`` console script, and plans the CLI tests share."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

PLANEXEC = shutil.which("planexec", path=str(Path(sys.executable).parent)) or "planexec"

ARITHMETIC: dict[str, Any] = {
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

WRITE_THEN_FAIL: dict[str, Any] = {
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


def planexec(
    *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ``planexec ARGS`` with the test's environment plus ``env``."""
    return subprocess.run(
        [PLANEXEC, *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def write_plan(directory: Path, plan: dict[str, Any], name: str = "plan.json") -> str:
    path = directory / name
    path.write_text(json.dumps(plan))
    return str(path)


def store_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'runs.db'}"


def run_json(plan_path: str, url: str, *extra: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a plan with ``--json`` into the store at ``url``; its run record."""
    proc = planexec("run", plan_path, "--json", "--store", url, *extra, env=env)
    assert proc.returncode in (0, 1), proc.stderr
    record: dict[str, Any] = json.loads(proc.stdout)
    return record


def json_out(proc: subprocess.CompletedProcess[bytes]) -> Any:
    """The one JSON document on stdout (fails when there is anything else)."""
    return json.loads(proc.stdout)
