"""A local OpenAI-compatible chat endpoint for tests: canned answers over real HTTP.

``openai_stub(answers)`` serves ``POST /v1/chat/completions`` (and ``/chat/completions``)
with uvicorn on a free loopback port, in the test's event loop. Each request takes the
next answer: a string is a normal completion (with ``usage``), a :class:`Reply` any
status and body (errors, no usage, empty content). Every request body and its
``Authorization`` header are recorded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..asgi_support import free_port_url, serve_asgi

PROMPT_TOKENS = 321
COMPLETION_TOKENS = 45


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]


def completion_body(text: str | None, *, model: str = "stub-model", usage: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": 1_767_225_600,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    }
    if usage:
        body["usage"] = {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": COMPLETION_TOKENS,
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        }
    return body


def error_body(status: int, message: str, kind: str) -> Reply:
    return Reply(status, {"error": {"message": message, "type": kind, "param": None, "code": kind}})


@dataclass
class Recorded:
    path: str
    body: dict[str, Any]
    authorization: str | None


@dataclass
class OpenAIStub:
    answers: list[str | Reply]
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)

    async def completions(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append(Recorded(request.url.path, body, request.headers.get("authorization")))
        if not self.answers:
            return JSONResponse(error_body(500, "the stub ran out of answers", "server_error").body, 500)
        answer = self.answers.pop(0)
        if isinstance(answer, Reply):
            return JSONResponse(answer.body, answer.status)
        return JSONResponse(completion_body(answer))


@asynccontextmanager
async def openai_stub(answers: list[str | Reply]) -> AsyncIterator[OpenAIStub]:
    """The stub, listening; ``url`` is its ``/v1`` base (what litellm takes as api_base)."""
    stub = OpenAIStub(list(answers))
    routes = [
        Route("/v1/chat/completions", stub.completions, methods=["POST"]),
        Route("/chat/completions", stub.completions, methods=["POST"]),
    ]
    async with serve_asgi(Starlette(routes=routes)) as base:
        stub.url = f"{base}/v1"
        yield stub


def refused_url() -> str:
    """A loopback URL where nothing listens."""
    return f"{free_port_url()}/v1"
