"""A scripted LLM (the one stand-in allowed for a model): answers from a list, in order,
and records every request it got."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from planexec.planner import Completion, LLMError, Message


@dataclass
class Request:
    messages: list[Message]
    response_format: Mapping[str, Any] | None
    max_tokens: int | None


@dataclass
class ScriptedLLM:
    """Answers ``answers`` one per call (an ``LLMError`` in the list is raised instead);
    asking past the end fails the test."""

    answers: list[str | LLMError]
    model: str = "scripted/planner"
    prompt_tokens: int = 100
    completion_tokens: int = 20
    requests: list[Request] = field(default_factory=list)

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        response_format: Mapping[str, Any] | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        self.requests.append(Request([dict(m) for m in messages], response_format, max_tokens))
        assert self.answers, f"the scripted LLM was asked {len(self.requests)} times, past its script"
        answer = self.answers.pop(0)
        if isinstance(answer, LLMError):
            raise answer
        return Completion(
            text=answer,
            model=self.model,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            latency_s=0.001,
        )
