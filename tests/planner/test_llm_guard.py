"""The session-wide guard (tests/llm_guard.py): litellm refuses every non-loopback call."""

from __future__ import annotations

import sys

import pytest

from planexec.planner import LiteLLMClient
from planexec.planner._litellm import _litellm

from ..llm_guard import RealProviderRefused

pytestmark = pytest.mark.anyio

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    "api_base",
    [None, "https://api.openai.com/v1", "http://10.0.0.8:8000/v1", "http://127.0.0.1.evil.example/v1"],
    ids=["provider-default", "openai", "private-network", "loopback-lookalike"],
)
async def test_the_client_cannot_reach_a_real_provider(api_base: str | None) -> None:
    client = LiteLLMClient("openai/gpt-4o-mini", api_base=api_base, api_key="sk-real-looking")
    with pytest.raises(RealProviderRefused):
        await client.complete(MESSAGES)  # type: ignore[arg-type]


async def test_litellm_itself_is_guarded_once_imported() -> None:
    litellm = _litellm()
    assert sys.modules["litellm"] is litellm
    with pytest.raises(RealProviderRefused):
        await litellm.acompletion(model="anthropic/claude-3-5-sonnet", messages=MESSAGES)
    with pytest.raises(RealProviderRefused):
        litellm.completion(model="gpt-4o", messages=MESSAGES, api_base="https://example.com")


async def test_mock_responses_stay_allowed() -> None:
    litellm = _litellm()
    response = await litellm.acompletion(model="gpt-4o", messages=MESSAGES, mock_response="canned")
    assert response.choices[0].message.content == "canned"
