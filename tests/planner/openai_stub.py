"""A local OpenAI-compatible chat endpoint for tests: canned answers over real HTTP.

``openai_stub(answers)`` serves ``POST /v1/chat/completions`` (and ``/chat/completions``)
with uvicorn on a free loopback port, in the test's event loop. Each request takes the
next answer: a string is a normal completion (with ``usage``), a :class:`Reply` any
status and body (errors, no usage, empty content). Every request body and its
``Authorization`` header are recorded.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

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


class _Uvicorn(uvicorn.Server):
    """uvicorn that tells when it listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = anyio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()


@asynccontextmanager
async def openai_stub(answers: list[str | Reply]) -> AsyncIterator[OpenAIStub]:
    """The stub, listening; ``url`` is its ``/v1`` base (what litellm takes as api_base)."""
    stub = OpenAIStub(list(answers))
    routes = [
        Route("/v1/chat/completions", stub.completions, methods=["POST"]),
        Route("/chat/completions", stub.completions, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    stub.url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    server = _Uvicorn(uvicorn.Config(app, log_level="warning", ws="none", http="h11", lifespan="off"))
    with sock:
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(server.serve, [sock])
            with anyio.fail_after(10):
                await server.listening.wait()
            try:
                yield stub
            finally:
                server.should_exit = True


def refused_url() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
