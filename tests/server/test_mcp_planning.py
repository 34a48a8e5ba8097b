"""create_plan and execute_plan's replan_on_failure through the real mcp Client against
the real server: in process in both protocol eras with a scripted LLM injected through
Services, over streamable HTTP, and through ``planexec serve`` with litellm calling a
local OpenAI-compatible endpoint over HTTP (configured by PLANEXEC_PLANNER_*)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.streams.text import TextReceiveStream
from mcp import Client
from mcp.server.request_state import InvalidRequestState
from mcp_types import TextResourceContents

from planexec.planner import LiteLLMClient, LLMError
from planexec.server._config import load_planner_settings
from planexec.server._planner_config import PlannerConfig, planner_config

from ..planner.openai_stub import COMPLETION_TOKENS, PROMPT_TOKENS, openai_stub
from .mcp_support import ERAS, PLANEXEC, body, client, error, http_server, resource_json
from .planner_support import (
    ADD_PLAN,
    FAILING_PLAN,
    INVALID_PLAN,
    REVISED_PLAN,
    ScriptedLLM,
    fenced,
    in_process,
    planning_services,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'planexec.db'}"


async def _stored_plan(mcp: Client, plan_id: str) -> dict[str, Any]:
    (contents,) = (await mcp.read_resource(f"planexec://plans/{plan_id}")).contents
    assert isinstance(contents, TextResourceContents)
    return resource_json(contents.text)


@pytest.mark.parametrize("era", ERAS)
async def test_a_plan_valid_at_once_is_stored_with_its_provenance_and_runs_by_plan_id(
    store_url: str, era: str
) -> None:
    llm = ScriptedLLM([fenced(ADD_PLAN)])
    async with in_process(planning_services(store_url, llm), era) as mcp:
        made = body(await mcp.call_tool("create_plan", {"goal": "add 2 and 3, then double it"}))
        assert made["planner"] == {
            "model": "scripted/planner",
            "rounds": 1,
            "prompt_tokens": 100,
            "completion_tokens": 20,
            "latency_s": made["planner"]["latency_s"],
        }
        assert made["planner"]["latency_s"] >= 0 and made["warnings"] == []
        assert made["plan"]["plan_id"] == made["plan_id"]
        assert set(made["plan"]["tasks"]) == {"sum", "double"}

        stored = await _stored_plan(mcp, made["plan_id"])
        assert stored["plan"] == made["plan"] and stored["user"] == "alice"
        provenance = stored["provenance"]
        assert provenance["source"] == "planner" and provenance["user"] == "alice"
        assert (provenance["planner_model"], provenance["rounds"]) == ("scripted/planner", 1)
        assert (provenance["prompt_tokens"], provenance["completion_tokens"]) == (100, 20)
        assert provenance["prompt_version"] and provenance["prompt_hash"]

        record = body(await mcp.call_tool("execute_plan", {"plan_id": made["plan_id"]}))
        assert (record["status"], record["output"], record["plan_id"]) == ("succeeded", 10, made["plan_id"])
    # the prompt carried the caller's tools and asked for the plan's JSON schema
    (request,) = llm.requests
    prompt = "\n".join(m["content"] for m in request.messages)
    assert "multiply" in prompt and "ledger_write" in prompt
    assert request.response_format is not None and request.response_format["type"] == "json_schema"


@pytest.mark.parametrize("era", ERAS)
async def test_an_invalid_plan_is_repaired_with_its_error_codes_sent_back(store_url: str, era: str) -> None:
    llm = ScriptedLLM([json.dumps(INVALID_PLAN), fenced(ADD_PLAN)])
    async with in_process(planning_services(store_url, llm), era) as mcp:
        made = body(await mcp.call_tool("create_plan", {"goal": "add 2 and 3, then double it"}))
        assert made["planner"]["rounds"] == 2
        assert (made["planner"]["prompt_tokens"], made["planner"]["completion_tokens"]) == (200, 40)
        assert (await _stored_plan(mcp, made["plan_id"]))["provenance"]["rounds"] == 2
    first, repair = llm.requests
    assert repair.messages[: len(first.messages)] == first.messages
    assert repair.messages[len(first.messages)] == {"role": "assistant", "content": json.dumps(INVALID_PLAN)}
    feedback = repair.messages[-1]["content"]
    assert "unknown_tool" in feedback and "invalid_arguments" in feedback


@pytest.mark.parametrize("era", ERAS)
async def test_a_plan_never_valid_is_planning_failed_with_the_last_errors_and_nothing_stored(
    store_url: str, era: str
) -> None:
    llm = ScriptedLLM([json.dumps(INVALID_PLAN), "no JSON at all"])
    async with in_process(planning_services(store_url, llm, max_repairs=1), era) as mcp:
        failed = error(await mcp.call_tool("create_plan", {"goal": "add"}))
        assert failed["code"] == "planning_failed"
        assert [e["code"] for e in failed["errors"]] == ["invalid_json"]  # the last round's
        assert failed["planner"]["rounds"] == 2 and failed["planner"]["model"] == "scripted/planner"
        listed = await mcp.list_resources()
        assert not [r for r in listed.resources if str(r.uri).startswith("planexec://plans/")]
    assert len(llm.requests) == 2


@pytest.mark.parametrize(
    ("code", "retryable"),
    [("llm_rate_limited", True), ("llm_auth", False), ("llm_unavailable", True)],
)
async def test_an_llm_failure_keeps_its_code_and_says_whether_to_retry(
    store_url: str, code: str, retryable: bool
) -> None:
    llm = ScriptedLLM([LLMError(code, "provider said no", retryable=retryable)])
    async with in_process(planning_services(store_url, llm), "auto") as mcp:
        failed = error(await mcp.call_tool("create_plan", {"goal": "add"}))
    assert (failed["code"], failed["retryable"]) == (code, retryable)


@pytest.mark.parametrize("era", ERAS)
async def test_without_a_model_or_a_sampling_client_create_plan_says_how_to_configure_one(
    store_url: str, era: str
) -> None:
    async with in_process(planning_services(store_url), era) as mcp:
        failed = error(await mcp.call_tool("create_plan", {"goal": "add"}))
    assert failed["code"] == "planner_not_configured"


async def test_inputs_given_to_create_plan_become_the_plans_inputs(store_url: str) -> None:
    tasks = dict(ADD_PLAN["tasks"])
    tasks["sum"] = {"tool_name": "add", "parameters": {"a": "$<inputs.x>", "b": 3}, "dependencies": []}
    llm = ScriptedLLM([json.dumps({**ADD_PLAN, "tasks": tasks, "inputs": {"x": 0}})])
    async with in_process(planning_services(store_url, llm), "auto") as mcp:
        made = body(await mcp.call_tool("create_plan", {"goal": "add x and 3", "inputs": {"x": 5}}))
        assert made["plan"]["inputs"] == {"x": 5}
        record = body(await mcp.call_tool("execute_plan", {"plan_id": made["plan_id"]}))
        assert record["output"] == 16


@pytest.mark.parametrize("era", ERAS)
async def test_create_plan_over_streamable_http(store_url: str, era: str) -> None:
    llm = ScriptedLLM([json.dumps(INVALID_PLAN), json.dumps(ADD_PLAN)])
    async with http_server(planning_services(store_url, llm)) as url, client(url, era) as mcp:
        made = body(await mcp.call_tool("create_plan", {"goal": "add 2 and 3, then double it"}))
        assert made["planner"]["rounds"] == 2
        record = body(await mcp.call_tool("execute_plan", {"plan_id": made["plan_id"]}))
        assert record["status"] == "succeeded" and record["output"] == 10


# -- replan_on_failure ------------------------------------------------------------------------


@pytest.mark.parametrize("era", ERAS)
async def test_a_failed_run_is_replanned_from_its_completed_outputs_and_linked(
    store_url: str, era: str
) -> None:
    llm = ScriptedLLM([fenced(REVISED_PLAN)])
    arguments = {"plan": FAILING_PLAN, "inputs": {"x": 4}, "replan_on_failure": 2}
    async with in_process(planning_services(store_url, llm), era) as mcp:
        final = body(await mcp.call_tool("execute_plan", arguments))
        assert (final["status"], final["output"]) == ("succeeded", 70)  # (4 + 3) * 10
        (replan,) = final["replans"]
        first_run = replan["from_run_id"]
        assert replan["round"] == 1 and replan["status"] == "succeeded"
        assert replan["run_id"] == final["run_id"] != first_run
        assert replan["plan_id"] == final["plan_id"]
        assert replan["planner"]["model"] == "scripted/planner" and replan["planner"]["rounds"] == 1
        assert final["replan_of"] == first_run

        failed = body(await mcp.call_tool("get_run", {"run_id": first_run}))
        assert failed["status"] == "failed" and failed["tasks"]["broken"]["status"] == "failed"
        replacement = body(await mcp.call_tool("get_run", {"run_id": final["run_id"]}))
        assert replacement["replan_of"] == first_run and replacement["status"] == "succeeded"

        revised = await _stored_plan(mcp, replan["plan_id"])
        assert revised["provenance"]["source"] == "planner"
        assert revised["provenance"]["replan_of"] == first_run
        assert revised["plan"]["inputs"]["completed"] == {"sum": {"result": 7}}
        assert revised["plan"]["inputs"]["x"] == 4
    # the planner was shown what failed
    prompt = "\n".join(m["content"] for m in llm.requests[0].messages)
    assert "disk full" in prompt


async def test_replanning_repeats_while_runs_fail_and_stops_at_the_bound(store_url: str) -> None:
    still_failing = {**FAILING_PLAN, "inputs": {}}
    llm = ScriptedLLM([json.dumps(still_failing), json.dumps(still_failing)])
    async with in_process(planning_services(store_url, llm), "auto") as mcp:
        final = body(await mcp.call_tool("execute_plan", {"plan": FAILING_PLAN, "replan_on_failure": 2}))
        assert final["status"] == "failed"
        first, second = final["replans"]
        assert [first["round"], second["round"]] == [1, 2]
        assert second["from_run_id"] == first["run_id"] and final["run_id"] == second["run_id"]
        assert [first["status"], second["status"]] == ["failed", "failed"]
        runs = body(await mcp.call_tool("list_runs", {"status": "failed"}))["runs"]
        assert len(runs) == 3
    assert llm.answers == []


async def test_a_run_that_succeeds_is_not_replanned(store_url: str) -> None:
    llm = ScriptedLLM([])
    async with in_process(planning_services(store_url, llm), "auto") as mcp:
        record = body(await mcp.call_tool("execute_plan", {"plan": ADD_PLAN, "replan_on_failure": 3}))
    assert record["status"] == "succeeded" and "replans" not in record and llm.requests == []


@pytest.mark.parametrize("era", ERAS)
async def test_without_a_planner_a_failed_run_is_answered_with_why_it_was_not_replanned(
    store_url: str, era: str
) -> None:
    async with in_process(planning_services(store_url), era) as mcp:
        final = body(await mcp.call_tool("execute_plan", {"plan": FAILING_PLAN, "replan_on_failure": 1}))
    assert final["status"] == "failed" and final["replans"] == []
    assert final["replan_error"]["code"] == "planner_not_configured"


async def test_a_replan_that_cannot_be_planned_reports_the_planners_error(store_url: str) -> None:
    llm = ScriptedLLM(["nothing useful", "still nothing", "no"])
    async with in_process(planning_services(store_url, llm), "auto") as mcp:
        final = body(await mcp.call_tool("execute_plan", {"plan": FAILING_PLAN, "replan_on_failure": 1}))
    assert final["status"] == "failed" and final["replans"] == []
    assert final["replan_error"]["code"] == "planning_failed"


@pytest.mark.parametrize(
    "arguments",
    [{"replan_on_failure": 1, "wait": False}, {"replan_on_failure": 4}, {"replan_on_failure": -1}],
    ids=["without-wait", "over-the-bound", "negative"],
)
async def test_replan_on_failure_arguments_are_checked(store_url: str, arguments: dict[str, Any]) -> None:
    async with in_process(planning_services(store_url, ScriptedLLM([])), "auto") as mcp:
        failed = error(await mcp.call_tool("execute_plan", {"plan": FAILING_PLAN, **arguments}))
    assert failed["code"] == "invalid_arguments"


# -- litellm through `planexec serve` ---------------------------------------------------------

_ANNOUNCED = re.compile(r"serving MCP on (http://\S+/mcp)")


async def _serve_http(store_url: str, env: dict[str, str], *args: str) -> tuple[anyio.abc.Process, str]:
    command = [PLANEXEC, "serve", "--transport", "http", "--port", "0", "--insecure-no-auth"]
    process = await anyio.open_process(
        [*command, "--store", store_url, *args], env=env, stdin=subprocess.DEVNULL
    )
    assert process.stderr is not None
    seen = ""
    with anyio.fail_after(30):
        async for chunk in TextReceiveStream(process.stderr):
            seen += chunk
            if found := _ANNOUNCED.search(seen):
                return process, found[1]
    raise AssertionError(f"the server did not announce itself: {seen}")


def _env(**planner: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANEXEC_")}
    return {**env, "PLANEXEC_TENANT": "acme", "PLANEXEC_USER": "alice", **planner}


@pytest.mark.parametrize("configured_by", ["environment", "options"])
async def test_planexec_serve_plans_with_litellm_calling_the_configured_endpoint(
    store_url: str, configured_by: str
) -> None:
    async with openai_stub([json.dumps(INVALID_PLAN), fenced(ADD_PLAN)]) as endpoint:
        env = _env(PLANEXEC_PLANNER_API_KEY="sk-local-test")
        args: tuple[str, ...] = ()
        if configured_by == "environment":
            env |= {"PLANEXEC_PLANNER_MODEL": "openai/local-model", "PLANEXEC_PLANNER_API_BASE": endpoint.url}
        else:
            args = ("--planner-model", "openai/local-model", "--planner-api-base", endpoint.url)
        process, url = await _serve_http(store_url, env, *args)
        try:
            async with Client(url, read_timeout_seconds=60) as mcp:
                made = body(await mcp.call_tool("create_plan", {"goal": "add 2 and 3, then double it"}))
                record = body(await mcp.call_tool("execute_plan", {"plan_id": made["plan_id"]}))
        finally:
            process.kill()
            await process.aclose()
    assert made["planner"]["rounds"] == 2
    tokens = (made["planner"]["prompt_tokens"], made["planner"]["completion_tokens"])
    assert tokens == (2 * PROMPT_TOKENS, 2 * COMPLETION_TOKENS)  # the provider's usage, both rounds
    assert record["output"] == 10, record
    first, repair = endpoint.requests
    assert first.body["model"] == "local-model" and first.body["messages"][0]["role"] == "system"
    assert "unknown_tool" in repair.body["messages"][-1]["content"]
    assert [first.authorization, repair.authorization] == ["Bearer sk-local-test"] * 2


def test_the_planner_key_is_no_command_line_option() -> None:
    result = subprocess.run(
        [PLANEXEC, "serve", "--planner-api-key", "sk-secret"],
        capture_output=True,
        timeout=30,
        check=False,
        env=_env(),
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2 and result.stdout == b""


@pytest.mark.parametrize(
    "variable", [("PLANEXEC_PLANNER_MAX_REPAIRS", "many"), ("PLANEXEC_REQUEST_STATE_KEY", "short")]
)
def test_an_unusable_planner_setting_is_a_usage_error_naming_the_variable(variable: tuple[str, str]) -> None:
    name, value = variable
    result = subprocess.run(
        [PLANEXEC, "serve"], capture_output=True, timeout=30, check=False, env=_env(**{name: value})
    )
    assert result.returncode == 2 and result.stdout == b""
    assert name.encode() in result.stderr and value.encode() not in result.stderr


# -- configuration ----------------------------------------------------------------------------


def test_planner_settings_come_from_the_environment_and_options_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANEXEC_PLANNER_MODEL", "openai/from-env")
    monkeypatch.setenv("PLANEXEC_PLANNER_API_BASE", "http://127.0.0.1:1/v1")
    monkeypatch.setenv("PLANEXEC_PLANNER_API_KEY", "sk-env")
    monkeypatch.setenv("PLANEXEC_PLANNER_MAX_REPAIRS", "4")
    monkeypatch.setenv("PLANEXEC_PLANNER_CONTEXT_TOKENS", "5000")
    settings = load_planner_settings()
    assert "sk-env" not in repr(settings)
    config = planner_config(settings.with_options("openai/from-option", None))
    assert isinstance(config.llm, LiteLLMClient) and config.llm.model == "openai/from-option"
    assert "127.0.0.1:1" in repr(config.llm)
    assert (config.max_repairs, config.context_budget_tokens) == (4, 5000)


def test_without_a_model_no_llm_is_configured_and_the_key_seals_request_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PLANEXEC_REQUEST_STATE_KEY", "s" * 40)
    config = planner_config(load_planner_settings())
    other = planner_config(load_planner_settings())
    assert config.llm is None
    sealed = config.request_state.codec.seal(b"state")
    assert other.request_state.codec.unseal(sealed) == b"state"  # another replica, same key
    with pytest.raises(InvalidRequestState):
        PlannerConfig().request_state.codec.unseal(sealed)  # a random key of its own
