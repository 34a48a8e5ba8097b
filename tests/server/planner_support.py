"""What the planning tests of the server share: canned LLM answers (plans for the demo
tools), the scripted LLM (tests/planner), a sampling callback answering from a script,
and servers wired with a planner. The local OpenAI-compatible endpoint litellm calls over
real HTTP is tests/planner's ``openai_stub``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.server.request_state import RequestStateSecurity
from mcp_types import CreateMessageRequestParams, CreateMessageResult, ErrorData, TextContent

from planexec.planner import LLM
from planexec.registry import Catalog, demo_source
from planexec.server._mcp_app import build_server
from planexec.server._mcp_services import Services, configured_identity
from planexec.server._planner_config import PlannerConfig
from planexec.store import open_store

from ..planner.scripted_llm import ScriptedLLM

__all__ = [
    "ADD_PLAN",
    "FAILING_PLAN",
    "INVALID_PLAN",
    "REVISED_PLAN",
    "ScriptedLLM",
    "ScriptedSampling",
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
