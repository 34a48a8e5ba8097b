"""``planexec bench`` end to end: the documented ``--json`` shape, the results folder, a
live run against a local OpenAI-compatible endpoint, usage errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from planexec.benchmarks.agentic._command import execute, options_from
from planexec.benchmarks.agentic._harness import subset
from planexec.benchmarks.agentic._suites import load_suite
from planexec.server._cli import app

from ..server.cli import PLANEXEC
from .agentic_stub import policy_stub

pytest.importorskip("trio")
pytest.importorskip("matplotlib")

MODE_KEYS = {"latency_s", "llm_tokens", "llm_calls", "accuracy"}


def bench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PLANEXEC, "bench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=55,
        check=False,
    )


def _check_shape(printed: dict[str, Any], modes: set[str]) -> None:
    assert set(printed) == {"suite", "modes", "speedup", "token_ratio"}
    assert set(printed["modes"]) == modes
    for stats in printed["modes"].values():
        assert set(stats) == MODE_KEYS
        assert all(isinstance(v, int | float) for v in stats.values())


def test_json_prints_the_documented_shape_and_a_limited_run_writes_nothing(tmp_path: Path) -> None:
    done = bench("parallelqa", "--limit", "5", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)  # the whole of stdout is one document
    assert printed["suite"] == "parallelqa"
    _check_shape(printed, {"reactive", "reactive_parallel", "planned"})
    assert printed["speedup"] > 1.0 and printed["token_ratio"] > 1.0
    assert list(tmp_path.iterdir()) == []


def test_a_run_writes_json_markdown_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert (
        execute(options_from(suite="synthetic", limit=3, mode="planned"), json_output=False, output=out) == 0
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "latency_tokens.png",
        "results.json",
        "results.md",
        "speedup_by_width.png",
        "timeline.png",
    ]
    result = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert list(result["modes"]) == ["planned"]
    assert result["speedup"] is None  # nothing to compare with
    assert (out / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| planned |" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args", [("nosuch",), ("parallelqa", "--mode", "sideways"), ("parallelqa", "--limit", "0")]
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    done = CliRunner().invoke(app, ["bench", *args])
    assert done.exit_code == 2
    assert done.stdout == ""


# litellm builds its response models lazily; pydantic warns about a ReadOnly TypedDict item
# of litellm's own (not ours) the first time, which filterwarnings=error would turn into a
# failed call.
@pytest.mark.filterwarnings("ignore:Item .* is using the `ReadOnly` qualifier:UserWarning")
def test_live_mode_against_a_local_openai_compatible_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """``planexec bench --llm openai/x --api-base URL``, in this process (litellm on
    asyncio), against the endpoint serving from its own thread."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local-test")
    [problem] = subset(load_suite("parallelqa").problems, 1)
    with policy_stub(problem) as stub:
        args = ["bench", "parallelqa", "--llm", "openai/x", "--api-base", stub.url, "--limit", "1", "--json"]
        done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    printed = json.loads(done.stdout)
    _check_shape(printed, {"reactive", "reactive_parallel", "planned"})
    modes = printed["modes"]
    for stats in modes.values():
        assert stats["accuracy"] == 1.0
    # every model call went to the endpoint, and the tokens are the endpoint's usage figures
    calls = sum(int(stats["llm_calls"]) for stats in modes.values())
    assert len(stub.requests) == calls
    assert {r["model"] for r in stub.requests} == {"x"}
    assert modes["planned"]["llm_calls"] == 2
    assert modes["reactive"]["llm_calls"] == len(problem.gold_plan["tasks"]) + 1
    for stats in modes.values():
        assert stats["llm_tokens"] == stats["llm_calls"] * (321 + 45)
