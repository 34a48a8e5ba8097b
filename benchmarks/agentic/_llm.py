"""The models the benchmark asks: the simulated one (a scripted policy with a latency
model and real token counts) and a meter around any :class:`~planexec.planner.LLM`.

**Latency model** of the simulated LLM: a call takes ``ttft_s + completion_tokens /
output_tokens_per_s`` seconds (``anyio.sleep``; virtual time under trio's MockClock).
Defaults are Artificial Analysis's published medians for GPT-4o (May '24) served by
OpenAI: time to first token 0.39 s, output speed 81 tokens/s
(artificialanalysis.ai/models/gpt-4o-2024-05-13/providers). Prompt length does not
change the latency in this model (prefill is fast next to decoding); it changes the
token count, which is what an API bills.

**Token counts** are measured on the real messages with ``litellm.token_counter`` (the
tokenizer of ``token_model``, default ``gpt-4o``), prompt and completion apart.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from planexec.planner import LLM, Completion, Message

__all__ = [
    "DEFAULT_TOKEN_MODEL",
    "LatencyModel",
    "LLMCall",
    "Meter",
    "Policy",
    "SimulatedLLM",
    "TokenCounter",
]

DEFAULT_TOKEN_MODEL = "gpt-4o"
Policy = Callable[[Sequence[Message]], str]
"""A scripted model: the messages in, the answer text out."""


@dataclass(frozen=True)
class LatencyModel:
    """Seconds a simulated call takes: time to first token plus decoding time."""

    ttft_s: float = 0.39
    output_tokens_per_s: float = 81.0

    def seconds(self, completion_tokens: int) -> float:
        return self.ttft_s + completion_tokens / self.output_tokens_per_s


class TokenCounter:
    """litellm's tokenizer for ``model``, with a cache (the ReAct prompts repeat a lot).

    litellm is imported on first use (it takes seconds), with its cost map read from the
    package rather than fetched."""

    def __init__(self, model: str = DEFAULT_TOKEN_MODEL) -> None:
        self.model = model
        self._messages: dict[tuple[tuple[str, str], ...], int] = {}
        self._texts: dict[str, int] = {}
        self._count: Callable[..., int] | None = None

    def _counter(self) -> Callable[..., int]:
        if self._count is None:
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            import litellm

            self._count = litellm.token_counter
        return self._count

    def prompt(self, messages: Sequence[Message]) -> int:
        key = tuple((m["role"], m["content"]) for m in messages)
        count = self._messages.get(key)
        if count is None:
            count = self._messages[key] = int(
                self._counter()(model=self.model, messages=[dict(m) for m in messages])
            )
        return count

    def text(self, text: str) -> int:
        count = self._texts.get(text)
        if count is None:
            count = self._texts[text] = int(self._counter()(model=self.model, text=text))
        return count


class SimulatedLLM:
    """An :class:`~planexec.planner.LLM` whose answers come from a scripted policy and
    whose calls take the latency model's time."""

    def __init__(self, policy: Policy, *, latency: LatencyModel, counter: TokenCounter) -> None:
        self._policy = policy
        self._latency = latency
        self._counter = counter

    @property
    def model(self) -> str:
        return f"simulated/{self._counter.model}"

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        response_format: Mapping[str, Any] | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        text = self._policy(messages)
        prompt_tokens = self._counter.prompt(messages)
        completion_tokens = self._counter.text(text)
        start = anyio.current_time()
        await anyio.sleep(self._latency.seconds(completion_tokens))
        return Completion(text, self.model, prompt_tokens, completion_tokens, anyio.current_time() - start)


@dataclass(frozen=True)
class LLMCall:
    """One call as the meter saw it; times in seconds on the run's clock."""

    label: str
    start_s: float
    end_s: float
    prompt_tokens: int
    completion_tokens: int


@dataclass
class Meter:
    """Wraps an LLM; counts its calls and tokens and times each call (``label`` names
    what the next calls are for: ``plan``, ``final``, ``step``)."""

    llm: LLM
    label: str = "call"
    calls: list[LLMCall] = field(default_factory=list)

    @property
    def model(self) -> str:
        return self.llm.model

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        response_format: Mapping[str, Any] | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        start = anyio.current_time()
        completion = await self.llm.complete(messages, response_format=response_format, max_tokens=max_tokens)
        self.calls.append(
            LLMCall(
                self.label,
                start,
                anyio.current_time(),
                completion.prompt_tokens,
                completion.completion_tokens,
            )
        )
        return completion

    @property
    def prompt_tokens(self) -> int:
        return sum(c.prompt_tokens for c in self.calls)

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.calls)
