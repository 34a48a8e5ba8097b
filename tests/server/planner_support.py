"""What the planning tests of the server share: canned LLM answers (plans for the demo
tools), the scripted LLM (tests/planner), a sampling callback answering from a script,
servers wired with a planner, and a local OpenAI-compatible endpoint that litellm can
call over real HTTP."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.server.request_state import RequestStateSecurity
from mcp_types import CreateMessageRequestParams, CreateMessageResult, ErrorData, TextContent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from planexec.planner import LLM
from planexec.registry import Catalog, demo_source
from planexec.server._mcp_app import build_server
from planexec.server._mcp_http import uvicorn_server
from planexec.server._mcp_services import Services, configured_identity
from planexec.server._planner_config import PlannerConfig
from planexec.store import open_store

from ..planner.scripted_llm import ScriptedLLM

__all__ = [
    "ADD_PLAN",
    "FAILING_PLAN",
    "INVALID_PLAN",
    "REVISED_PLAN",
    "ChatEndpoint",
    "ScriptedLLM",
    "ScriptedSampling",
    "chat_endpoint",
    "fenced",
    "in_process",
    "planning_services",
]

ADD_PLAN: dict[str, Any] = {
    "goal": "add 2 and 3, then double it",
    "tasks": {
        "sum": {"tool_name": "add", "parameters": {"a": 2, "b": 3}, "dependencies": []},
        "double": {
            "tool_name": "multiply",
            "parameters": {"a": "$<sum.output.result>", "b": 2},
            "dependencies": ["sum"],
        },
    },
    "output": "$<double.output.result>",
}
"""Valid for the demo tools; its run outputs 10."""

INVALID_PLAN: dict[str, Any] = {
    "tasks": {
        "sum": {"tool_name": "no_such_tool", "parameters": {"a": 2}, "dependencies": []},
        "double": {"tool_name": "multiply", "parameters": {"a": "two", "b": 2}, "dependencies": ["sum"]},
    }
}
"""Invalid twice over: an unknown tool and a literal of the wrong type."""

FAILING_PLAN: dict[str, Any] = {
    "goal": "sum, then a step that breaks, then report",
    "inputs": {"x": 4},
    "tasks": {
        "sum": {"tool_name": "add", "parameters": {"a": "$<inputs.x>", "b": 3}, "dependencies": []},
        "broken": {"tool_name": "fail", "parameters": {"message": "disk full"}, "dependencies": ["sum"]},
        "report": {
            "tool_name": "echo",
            "parameters": {"value": "$<broken.output>"},
            "dependencies": ["broken"],
        },
    },
    "output": "$<report.output>",
}
"""The middle task fails (demo ``fail``), so the run fails with ``sum`` completed."""

REVISED_PLAN: dict[str, Any] = {
    "tasks": {
        "scale": {
            "tool_name": "multiply",
            "parameters": {"a": "$<inputs.completed.sum.result>", "b": 10},
            "dependencies": [],
        },
        "report": {
            "tool_name": "echo",
            "parameters": {"value": "$<scale.output.result>"},
            "dependencies": ["scale"],
        },
    },
    "output": "$<report.output.result>",
}
"""A revision of FAILING_PLAN that builds on the completed ``sum`` (7): outputs 70."""


def fenced(plan: dict[str, Any]) -> str:
    """A plan as a model often writes it: prose around a fenced JSON block."""
    return f"Here is the plan:\n\n```json\n{json.dumps(plan, indent=2)}\n```\n\nIt uses the demo tools."


def planning_services(
    store_url: str, llm: LLM | None = None, *, max_repairs: int = 2, request_state_key: str | None = None
) -> Services:
    """Services on the demo tools, acting for (acme, alice), planning with ``llm`` (None:
    no configured model); request state sealed with ``request_state_key`` (None: a key of
    its own)."""
    security = (
        RequestStateSecurity(keys=[request_state_key])
        if request_state_key is not None
        else RequestStateSecurity.ephemeral()
    )
    return Services(
        catalog=Catalog([demo_source()]),
        store=open_store(store_url),
        principal_of=configured_identity("acme", "alice"),
        planner=PlannerConfig(llm=llm, max_repairs=max_repairs, request_state=security),
    )


def in_process(served: Services, era: str, sampling: ScriptedSampling | None = None) -> Client:
    """The SDK Client connected to the server in this process."""
    return Client(build_server(served), mode=era, sampling_callback=sampling, read_timeout_seconds=30)


@dataclass
class ScriptedSampling:
    """A client's sampling callback answering ``answers`` in order (an ``ErrorData``
    in the list is answered as the client's refusal); records what it was asked."""

    answers: list[str | ErrorData]
    model: str = "client/llm"
    asked: list[CreateMessageRequestParams] = field(default_factory=list)

    async def __call__(
        self, context: ClientRequestContext, params: CreateMessageRequestParams
    ) -> CreateMessageResult | ErrorData:
        self.asked.append(params)
        assert self.answers, f"sampled {len(self.asked)} times, past the script"
        answer = self.answers.pop(0)
        if isinstance(answer, ErrorData):
            return answer
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text=answer), model=self.model
        )


@dataclass
class ChatEndpoint:
    """An OpenAI-compatible ``/v1/chat/completions`` answering ``answers`` in order, with
    usage figures; ``requests`` holds the JSON bodies it got, ``authorizations`` their
    Authorization headers."""

    answers: list[str]
    url: str = ""
    model: str = "local-model"
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)

    async def completions(self, request: Request) -> JSONResponse:
        payload = await request.json()
        self.requests.append(payload)
        self.authorizations.append(request.headers.get("authorization"))
        if not self.answers:
            return JSONResponse({"error": {"message": "script exhausted", "type": "server_error"}}, 500)
        text = self.answers.pop(0)
        return JSONResponse(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": self.model,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 321, "completion_tokens": 45, "total_tokens": 366},
            }
        )


@asynccontextmanager
async def chat_endpoint(answers: list[str]) -> AsyncIterator[ChatEndpoint]:
    """A :class:`ChatEndpoint` served by uvicorn on a free loopback port in this event
    loop; ``url`` is its ``/v1`` base."""
    endpoint = ChatEndpoint(list(answers))
    app = Starlette(routes=[Route("/v1/chat/completions", endpoint.completions, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    endpoint.url = f"http://127.0.0.1:{port}/v1"
    listening = anyio.Event()
    server = uvicorn_server(app, "127.0.0.1", port, on_listening=lambda _: listening.set())
    with sock:
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(server.serve, [sock])
            with anyio.fail_after(10):
                await listening.wait()
            try:
                yield endpoint
            finally:
                server.should_exit = True
