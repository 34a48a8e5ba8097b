"""A local OpenAI-compatible endpoint that answers like the gold-following model.

Built on the planner tests' stub (``tests/planner/openai_stub.py``: uvicorn on a free
loopback port, the same completion bodies and usage figures), but each answer is
computed from the request's messages by the benchmark's scripted policies — ReAct,
parallel ReAct, planner or final answer, told apart by the system prompt — so a live
run can go through as many turns as it needs. Runs in a thread of its own (a blocking
portal), so a ``planexec bench`` subprocess can call it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from anyio.from_thread import start_blocking_portal
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from planexec.benchmarks.agentic import _planned, _reactive
from planexec.benchmarks.agentic._suite import Problem

from ..asgi_support import serve_asgi
from ..planner.openai_stub import completion_body


@dataclass
class PolicyStub:
    problem: Problem
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)

    def answer(self, messages: list[Any]) -> str:
        system = messages[0]["content"]
        if system.startswith("You answer questions by calling tools"):
            parallel = "one or more Actions" in system
            return _reactive.gold_policy(self.problem, parallel=parallel)(messages)
        return _planned.gold_policy(self.problem)(messages)

    async def completions(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append(body)
        return JSONResponse(completion_body(self.answer(body["messages"])))


@asynccontextmanager
async def _serving(stub: PolicyStub) -> Any:
    app = Starlette(routes=[Route("/v1/chat/completions", stub.completions, methods=["POST"])])
    async with serve_asgi(app) as base:
        stub.url = f"{base}/v1"
        yield stub

@contextmanager
def policy_stub(problem: Problem) -> Iterator[PolicyStub]:
    """The stub, listening in a background thread, for ``problem``."""
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(_serving(PolicyStub(problem))) as stub,
    ):
        yield stub
