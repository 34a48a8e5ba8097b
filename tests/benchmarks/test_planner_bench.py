"""Smoke test of the planner benchmark: ``--quick`` offline (recorded answers) end to end,
and a live run through litellm against the local OpenAI-compatible stub.

Timings are never asserted; only the structure and the recorded outcomes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from ..planner.openai_stub import PROMPT_TOKENS, openai_stub
from ..planner.test_planner import VALID
from .bench_support import REPO, quick_command, run_quick

ROUNDS = {"0", "1", "2"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    return run_quick("planner", tmp_path_factory.mktemp("bench") / "planner.json")


def test_quick_run_prints_the_same_json_it_writes(quick_run: tuple[dict[str, Any], dict[str, Any]]) -> None:
    printed, written = quick_run
    assert printed == written
    assert (printed["benchmark"], printed["schema_version"]) == ("planner", 1)
    assert printed["config"]["quick"] is True and printed["config"]["mode"] == "offline"
    assert {"environment", "config", "summary", "by_kind", "goals", "checks"} <= printed.keys()


def test_every_recorded_goal_behaves_as_recorded(quick_run: tuple[dict[str, Any], dict[str, Any]]) -> None:
    result = quick_run[0]
    assert result["checks"] == {"every_goal_as_recorded": True, "mismatched": []}
    outcomes = {row["id"]: row["outcome"] for row in result["goals"]}
    assert outcomes["add-two"] == "valid@0"
    assert outcomes["cycle"] == "valid@1"
    assert outcomes["tool-then-arguments"] == "valid@2"
    assert outcomes["no-email-tool"] == "never"
    rows = {row["id"]: row for row in result["goals"]}
    assert rows["truncated-json"]["parsed"] == [False, True]
    assert rows["cycle"]["error_codes"] == [["cycle"], []]


def test_the_summary_adds_up(quick_run: tuple[dict[str, Any], dict[str, Any]]) -> None:
    result = quick_run[0]
    summary = result["summary"]
    assert summary["goals"] == result["config"]["goals"] == len(result["goals"]) == 8
    assert summary["answers"] == sum(row["rounds"] for row in result["goals"])
    after = summary["valid_after_round"]
    assert set(after) == ROUNDS
    assert after["0"] <= after["1"] <= after["2"] <= 1
    assert after["2"] + summary["never_valid"] == pytest.approx(1)
    assert summary["tokens_per_goal"]["prompt_mean"] > 0
    assert set(result["by_kind"]) == {"valid", "wrapped", "repair", "repair2", "never"}


@pytest.mark.anyio
async def test_a_live_run_goes_through_litellm(tmp_path: Path) -> None:
    output = tmp_path / "live.json"
    async with openai_stub([VALID] * 8) as stub:
        done = await anyio.run_process(
            quick_command(
                "planner",
                output,
                "--llm",
                "openai/stub-model",
                "--api-base",
                stub.url,
                "--api-key",
                "sk-local",
            ),
            cwd=REPO,
            check=False,
        )
    assert done.returncode == 0, done.stderr.decode()
    result = json.loads(done.stdout)
    assert result == json.loads(output.read_text("utf-8"))
    assert (result["config"]["mode"], result["config"]["model"]) == ("live", "openai/stub-model")
    assert "checks" not in result
    assert len(stub.requests) == 8
    assert {row["outcome"] for row in result["goals"]} == {"valid@0"}
    assert result["summary"]["tokens_per_goal"]["prompt_mean"] == PROMPT_TOKENS
    assert {r.authorization for r in stub.requests} == {"Bearer sk-local"}
