"""The planner's view of a language model: one protocol, several implementations.

Everything that plans or benchmarks talks to an LLM through :class:`LLM`: the litellm
client (any provider), the connected MCP client's own model through sampling (server),
a scripted model in tests and the simulated model of the benchmarks. An implementation
answers one chat completion: the messages in, the text out with its token counts and
how long it took.

``response_format`` is the OpenAI-style request for structured output: ``{"type":
"json_schema", "json_schema": {"name", "schema", "strict"}}`` or ``{"type":
"json_object"}``. An implementation that cannot honour it ignores it: the planner
extracts JSON from whatever text comes back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypedDict, runtime_checkable

__all__ = ["LLM", "Completion", "LLMError", "Message"]


class Message(TypedDict):
    """One chat message."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class Completion:
    """One answer of a model.

    ``model`` is the model that answered (as the provider names it, else as configured);
    token counts are the provider's when it reports them, else counted on the text;
    ``latency_s`` is the wall time of the call.
    """

    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0


class LLMError(Exception):
    """The model could not be asked or gave no usable answer (transport, auth, quota,
    refusal). ``code`` is stable: ``llm_unavailable``, ``llm_auth``, ``llm_rate_limited``,
    ``llm_bad_request``, ``llm_refused``; ``retryable`` says whether asking again may help."""

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


@runtime_checkable
class LLM(Protocol):
    """A chat model the planner can ask."""

    @property
    def model(self) -> str:
        """The configured model name (provenance of every plan it makes)."""
        ...

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        response_format: Mapping[str, Any] | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        """One chat completion; raises :class:`LLMError` when there is no answer."""
        ...
