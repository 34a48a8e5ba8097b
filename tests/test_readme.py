"""The README's examples run as written: the library example, the MCP client example
(against a real server; only its URL is changed), and the 30-seconds CLI session."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from .server.mcp_support import PLANEXEC, http_server, services

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def _block(marker: str) -> str:
    (block,) = [b for b in PYTHON_BLOCKS if marker in b]
    return block


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_library_example_runs() -> None:
    output = _run(_block("Executor(tools)"))
    assert output == "succeeded sum=5, double=10, square=4, recovered after one retry\n"


@pytest.mark.anyio
async def test_the_mcp_client_example_runs(tmp_path: Path) -> None:
    async with http_server(services(f"sqlite:///{tmp_path / 'r.db'}")) as url:
        code = _block("from mcp import Client").replace("http://127.0.0.1:8765/mcp", url)
        output = await anyio.to_thread.run_sync(_run, code)
    assert output.split() == ["succeeded", "{'a':", "{'result':", "3}}"]


def test_the_thirty_seconds_session_runs() -> None:
    validate = subprocess.run(
        [PLANEXEC, "validate", "examples/broken.json"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert validate.returncode == 1 and "unknown_dependency" in validate.stdout
    run = subprocess.run(
        [PLANEXEC, "run", "examples/quickstart.json", "--json", "--store", "sqlite:///:memory:"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["output"] == "sum=5, double=10, square=4, recovered after one retry"
