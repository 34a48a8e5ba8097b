"""The planner over real litellm calls to a local OpenAI-compatible endpoint (the stub in
``openai_stub``): the real HTTP path, never a real provider."""

from __future__ import annotations

import json
from typing import Any

import pytest

from planexec.planner import LiteLLMClient, LLMError, Planner, PlanningFailed
from planexec.planner._prompt import plan_prompt
from planexec.registry import Catalog

from .openai_stub import (
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
    Reply,
    completion_body,
    error_body,
    openai_stub,
    refused_url,
)
from .test_planner import GOAL, UNKNOWN_TOOL, VALID, codes

pytestmark = pytest.mark.anyio

API_KEY = "sk-local-test"
NO_RETRIES = {"max_retries": 0}  # the openai client's own retries would only slow errors down


def client(url: str, model: str = "openai/stub-model") -> LiteLLMClient:
    return LiteLLMClient(model, api_base=url, api_key=API_KEY, extra=NO_RETRIES)


async def test_a_valid_answer_over_http(demo_tools: Catalog) -> None:
    async with openai_stub([f"```json\n{VALID}\n```"]) as stub:
        outcome = await Planner(client(stub.url)).create_plan(GOAL, demo_tools, inputs={"x": 5})

    assert outcome.rounds == 1
    assert set(outcome.plan.tasks) == {"sum", "double"}
    assert (outcome.prompt_tokens, outcome.completion_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert outcome.model == "stub-model"
    [request] = stub.requests
    assert request.path == "/v1/chat/completions"
    assert request.authorization == f"Bearer {API_KEY}"
    body = request.body
    assert body["model"] == "stub-model"
    assert body["messages"] == list(plan_prompt(GOAL, demo_tools.specs(), inputs={"x": 5}).messages)
    assert body["temperature"] == 0.0
    assert body["max_tokens"] == 4096
    # no response-schema support known for this model: JSON mode instead
    assert body["response_format"] == {"type": "json_object"}


async def test_a_model_with_response_schemas_gets_the_plan_schema(demo_tools: Catalog) -> None:
    async with openai_stub([VALID]) as stub:
        await Planner(client(stub.url, "openai/gpt-4o")).create_plan(GOAL, demo_tools, inputs={"x": 5})
    sent = stub.requests[0].body["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["name"] == "PlanObject"
    assert "tasks" in sent["json_schema"]["schema"]["properties"]


async def test_an_invalid_answer_is_repaired_over_http(demo_tools: Catalog) -> None:
    async with openai_stub([UNKNOWN_TOOL, VALID]) as stub:
        outcome = await Planner(client(stub.url)).create_plan(GOAL, demo_tools, inputs={"x": 5})

    assert outcome.rounds == 2
    assert (outcome.prompt_tokens, outcome.completion_tokens) == (2 * PROMPT_TOKENS, 2 * COMPLETION_TOKENS)
    first, second = (r.body["messages"] for r in stub.requests)
    assert second[: len(first)] == first
    assert second[len(first)] == {"role": "assistant", "content": UNKNOWN_TOOL}
    assert second[-1]["role"] == "user"
    assert codes(second[-1]["content"]) == {"unknown_tool"}


async def test_never_valid_over_http_is_bounded(demo_tools: Catalog) -> None:
    async with openai_stub([UNKNOWN_TOOL] * 3 + [VALID]) as stub:
        with pytest.raises(PlanningFailed) as caught:
            await Planner(client(stub.url), max_repairs=2).create_plan(GOAL, demo_tools, inputs={"x": 5})
    assert len(stub.requests) == 3 == caught.value.rounds
    assert [str(p.code) for p in caught.value.errors] == ["unknown_tool"]
    assert caught.value.as_json()["planner"]["prompt_tokens"] == 3 * PROMPT_TOKENS


async def test_connection_refused_is_llm_unavailable(demo_tools: Catalog) -> None:
    with pytest.raises(LLMError) as caught:
        await Planner(client(refused_url())).create_plan(GOAL, demo_tools)
    assert caught.value.code == "llm_unavailable"
    assert caught.value.retryable is True


@pytest.mark.parametrize(
    ("reply", "code", "retryable"),
    [
        (error_body(401, "Incorrect API key provided", "invalid_api_key"), "llm_auth", False),
        (error_body(403, "not allowed", "permission_denied"), "llm_auth", False),
        (error_body(429, "Rate limit reached", "rate_limit_exceeded"), "llm_rate_limited", True),
        (error_body(400, "bad request", "invalid_request_error"), "llm_bad_request", False),
        (error_body(503, "overloaded", "server_error"), "llm_unavailable", True),
        (Reply(200, completion_body("")), "llm_refused", False),
        (Reply(200, completion_body(None)), "llm_refused", False),
    ],
    ids=["401", "403", "429", "400", "503", "empty", "null-content"],
)
async def test_provider_errors_map_to_llm_error_codes(
    demo_tools: Catalog, reply: Reply, code: str, retryable: bool
) -> None:
    async with openai_stub([reply]) as stub:
        with pytest.raises(LLMError) as caught:
            await Planner(client(stub.url)).create_plan(GOAL, demo_tools)
    assert (caught.value.code, caught.value.retryable) == (code, retryable)
    assert len(stub.requests) == 1


async def test_tokens_are_counted_when_the_provider_reports_no_usage(demo_tools: Catalog) -> None:
    async with openai_stub([Reply(200, completion_body(VALID, usage=False))]) as stub:
        outcome = await Planner(client(stub.url)).create_plan(GOAL, demo_tools, inputs={"x": 5})
    assert outcome.prompt_tokens > 100  # the prompt is thousands of characters
    assert 0 < outcome.completion_tokens < len(VALID)


async def test_the_bare_client_answers_one_completion() -> None:
    messages: list[Any] = [{"role": "user", "content": "say hi"}]
    async with openai_stub(["hi"]) as stub:
        completion = await client(stub.url).complete(messages, max_tokens=5)
    assert (completion.text, completion.model) == ("hi", "stub-model")
    assert completion.latency_s > 0
    body = stub.requests[0].body
    assert body["messages"] == messages and body["max_tokens"] == 5
    assert "response_format" not in body
    json.dumps(body)
