"""create_plan with no configured model plans with the client's own LLM through MCP
sampling, in both protocol eras: a ``sampling/createMessage`` request on the back channel
(``legacy``: initialize and a session), or ``InputRequiredResult`` rounds whose answers
ride the sealed request state (2026-07-28, the SDK Client's default). The real mcp Client
with a ``sampling_callback`` answers from a script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    CallToolResult,
    CreateMessageRequest,
    CreateMessageResult,
    ErrorData,
    InputRequiredResult,
    TextContent,
)

from planexec.server._planner_config import PlannerConfig

from .mcp_support import ERAS, body, client, error, http_server
from .planner_support import (
    ADD_PLAN,
    FAILING_PLAN,
    INVALID_PLAN,
    REVISED_PLAN,
    ScriptedSampling,
    fenced,
    in_process,
    planning_services,
)

pytestmark = pytest.mark.anyio

KEY = "k" * 32


def _reply(text: str) -> CreateMessageResult:
    return CreateMessageResult(role="assistant", content=TextContent(type="text", text=text), model="m")


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'planexec.db'}"


@pytest.mark.parametrize("era", ERAS)
async def test_sampling_plans_with_the_clients_llm_and_repairs_with_a_second_answer(
    store_url: str, era: str
) -> None:
    sampling = ScriptedSampling([json.dumps(INVALID_PLAN), fenced(ADD_PLAN)])
    async with in_process(planning_services(store_url), era, sampling) as mcp:
        made = body(await mcp.call_tool("create_plan", {"goal": "add 2 and 3, then double it"}))
        assert made["planner"]["model"] == "client/llm" and made["planner"]["rounds"] == 2
        assert made["planner"]["prompt_tokens"] > 0 and made["planner"]["completion_tokens"] > 0
        record = body(await mcp.call_tool("execute_plan", {"plan_id": made["plan_id"]}))
        assert record["output"] == 10
    first, repair = sampling.asked
    assert first.system_prompt and repair.system_prompt == first.system_prompt
    assert [m.role for m in first.messages] == ["user"]
    assert [m.role for m in repair.messages] == ["user", "assistant", "user"]
    answered = repair.messages[1].content
    assert isinstance(answered, TextContent) and answered.text == json.dumps(INVALID_PLAN)
    feedback = repair.messages[2].content
    assert isinstance(feedback, TextContent) and "unknown_tool" in feedback.text
    assert first.max_tokens == repair.max_tokens == PlannerConfig().max_tokens


@pytest.mark.parametrize("era", ERAS)
async def test_sampling_over_streamable_http(store_url: str, era: str) -> None:
    sampling = ScriptedSampling([json.dumps(INVALID_PLAN), json.dumps(ADD_PLAN)])
    async with http_server(planning_services(store_url)) as url:
        async with client(url, era) as plain:  # no sampling callback: no capability
            assert error(await plain.call_tool("create_plan", {"goal": "add"}))["code"] == (
                "planner_not_configured"
            )
        mcp = client(url, era)
        mcp.sampling_callback = sampling
        async with mcp:
            made = body(await mcp.call_tool("create_plan", {"goal": "add 2 and 3, then double it"}))
    assert made["planner"]["rounds"] == 2 and len(sampling.asked) == 2


async def test_in_2026_07_28_each_llm_answer_is_one_input_required_round_and_the_state_is_sealed(
    store_url: str,
) -> None:
    sampling = ScriptedSampling([])  # declares the capability; the rounds are driven by hand
    async with in_process(planning_services(store_url), "auto", sampling) as mcp:
        arguments = {"goal": "add 2 and 3, then double it"}
        first = await mcp.session.call_tool("create_plan", arguments, allow_input_required=True)
        assert isinstance(first, InputRequiredResult) and first.input_requests is not None
        ((key, request),) = first.input_requests.items()
        assert isinstance(request, CreateMessageRequest) and request.method == "sampling/createMessage"
        assert first.request_state is not None and "add 2 and 3" not in first.request_state

        def answer(text: str) -> dict[str, CreateMessageResult]:
            return {key: _reply(text)}

        # a forged or altered state is refused; so is the state replayed for other arguments
        with pytest.raises(MCPError) as forged:
            await mcp.session.call_tool(
                "create_plan",
                arguments,
                input_responses=answer(json.dumps(ADD_PLAN)),
                request_state=first.request_state[:-4] + "AAAA",
                allow_input_required=True,
            )
        assert forged.value.error.code == INVALID_PARAMS
        with pytest.raises(MCPError):
            await mcp.session.call_tool(
                "create_plan",
                {"goal": "something else"},
                input_responses=answer(json.dumps(ADD_PLAN)),
                request_state=first.request_state,
                allow_input_required=True,
            )

        # an invalid answer: a second round asks the repair question
        second = await mcp.session.call_tool(
            "create_plan",
            arguments,
            input_responses=answer(json.dumps(INVALID_PLAN)),
            request_state=first.request_state,
            allow_input_required=True,
        )
        assert isinstance(second, InputRequiredResult) and second.input_requests is not None
        ((repair_key, repair),) = second.input_requests.items()
        assert repair_key != key and isinstance(repair, CreateMessageRequest)
        assert len(repair.params.messages) == 3
        done = await mcp.session.call_tool(
            "create_plan",
            arguments,
            input_responses={repair_key: answer(json.dumps(ADD_PLAN))[key]},
            request_state=second.request_state,
            allow_input_required=True,
        )
        assert isinstance(done, CallToolResult) and not done.is_error
        assert body(done)["planner"]["rounds"] == 2 and body(done)["planner"]["model"] == "m"


async def test_another_replica_with_the_same_key_resumes_the_call_and_one_with_another_key_refuses(
    store_url: str,
) -> None:
    sampling = ScriptedSampling([])
    arguments = {"goal": "add 2 and 3, then double it"}
    async with in_process(planning_services(store_url, request_state_key=KEY), "auto", sampling) as one:
        first = await one.session.call_tool("create_plan", arguments, allow_input_required=True)
    assert isinstance(first, InputRequiredResult) and first.input_requests is not None
    (key,) = first.input_requests
    reply = _reply(json.dumps(ADD_PLAN))
    stranger_services = planning_services(store_url, request_state_key="z" * 32)
    async with in_process(stranger_services, "auto", sampling) as stranger:
        with pytest.raises(MCPError) as refused:
            await stranger.session.call_tool(
                "create_plan",
                arguments,
                input_responses={key: reply},
                request_state=first.request_state,
                allow_input_required=True,
            )
        assert refused.value.error.code == INVALID_PARAMS
    async with in_process(planning_services(store_url, request_state_key=KEY), "auto", sampling) as other:
        done = await other.session.call_tool(
            "create_plan",
            arguments,
            input_responses={key: reply},
            request_state=first.request_state,
            allow_input_required=True,
        )
    assert isinstance(done, CallToolResult) and body(done)["plan"]["tasks"].keys() == {"sum", "double"}


async def test_a_client_that_declines_to_sample_is_llm_refused(store_url: str) -> None:
    sampling = ScriptedSampling([ErrorData(code=-1, message="the user declined")])
    async with in_process(planning_services(store_url), "legacy", sampling) as mcp:
        refused = error(await mcp.call_tool("create_plan", {"goal": "add"}))
    assert refused["code"] == "llm_refused"


async def test_replanning_samples_over_the_back_channel(store_url: str) -> None:
    sampling = ScriptedSampling([fenced(REVISED_PLAN)])
    async with in_process(planning_services(store_url), "legacy", sampling) as mcp:
        final = body(
            await mcp.call_tool("execute_plan", {"plan": FAILING_PLAN, "replan_on_failure": 1})
        )
    assert (final["status"], final["output"]) == ("succeeded", 70)
    assert final["replans"][0]["planner"]["model"] == "client/llm"


async def test_in_2026_07_28_replanning_needs_a_configured_model(store_url: str) -> None:
    sampling = ScriptedSampling([fenced(REVISED_PLAN)])
    async with in_process(planning_services(store_url), "auto", sampling) as mcp:
        final = body(await mcp.call_tool("execute_plan", {"plan": FAILING_PLAN, "replan_on_failure": 1}))
    assert final["status"] == "failed" and final["replans"] == []
    assert final["replan_error"]["code"] == "planner_not_configured"
    assert sampling.asked == []
