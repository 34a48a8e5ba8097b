"""The connected client's own LLM as the planner's :class:`~planexec.planner.LLM`, through
MCP sampling (``sampling/createMessage``), in both protocol eras.

- **Handshake era** (up to 2025-11-25, ``initialize`` and a session):
  :class:`BackChannelSampling` sends each ``sampling/createMessage`` to the client in the
  middle of the ``tools/call``, on that request's stream, and waits for the answer.
- **2026-07-28** (no back channel): :class:`RoundTripSampling`. A call cannot wait for
  the client, so it answers ``InputRequiredResult`` with the sampling request; the
  client samples and retries the same call with ``input_responses`` and the
  ``request_state`` it got. The planner is then run again from the start: the answers
  of earlier rounds are replayed from the request state, in order, each only for the
  exact question it answered (a digest of the rendered request), until the planner asks
  something not yet answered (:class:`SamplingNeeded`: one more round) or finishes.
  A plan repaired twice takes three rounds. The planner must ask the same questions
  given the same answers (its prompts are deterministic); a question that differs from
  the recorded one drops the recorded answers from there on and is asked afresh.

The request state lives only in the client's hands: the SDK's
:class:`~mcp.server.request_state.RequestStateBoundary` (installed by ``_mcp_app``)
encrypts and authenticates it on the way out, and on the way in checks that it was
minted by a server holding the same key, for this tool, these arguments and this
principal, and has not expired. Any replica with the key can resume the call.

Sampling has no structured-output request: ``response_format`` is ignored (the planner
extracts the JSON from the text). Token counts are estimated from the text (clients do
not report them); latency is the wall time from asking to the answer arriving (in
2026-07-28, it includes the client's round trip).

Failures are :class:`~planexec.planner.LLMError`: the client answered an error or
refused (``llm_refused``), gave something that is not text (``llm_refused``), or cannot
be reached (``llm_unavailable``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from mcp.server import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.shared.exceptions import MCPError, NoBackChannelError
from mcp.shared.message import ServerMessageMetadata
from mcp_types import (
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    InputRequiredResult,
    InputResponses,
    RequestId,
    SamplingMessage,
    TextContent,
)
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, ValidationError

from planexec.planner import Completion, LLMError, Message

__all__ = [
    "SAMPLING_MODEL",
    "BackChannelSampling",
    "RoundTripSampling",
    "SamplingNeeded",
    "sampling_llm",
    "sampling_request",
]

SAMPLING_MODEL = "mcp-sampling"
"""The configured model name of sampling (the client names the model that answered)."""

_ROUND_TRIP_VERSION = "2026-07-28"
_STATE_VERSION = 1
_KEY = "planexec/sample/{}"


def client_samples(ctx: ServerRequestContext[Any, Any]) -> bool:
    """Whether the client of this request declared the ``sampling`` capability."""
    capabilities = ctx.session.client_capabilities
    return capabilities is not None and capabilities.sampling is not None


def round_trips(ctx: ServerRequestContext[Any, Any]) -> bool:
    """Whether this request's era asks the client through ``InputRequiredResult``
    (2026-07-28 and later) rather than a request on the back channel."""
    return is_version_at_least(ctx.protocol_version, _ROUND_TRIP_VERSION)


def sampling_llm(
    ctx: ServerRequestContext[Any, Any],
    *,
    input_responses: InputResponses | None,
    request_state: str | None,
    max_tokens: int,
) -> BackChannelSampling | RoundTripSampling | None:
    """The client's LLM for this request, in its era's form; None when the client
    cannot sample. ``input_responses`` and ``request_state`` are the call's own (the
    state already unsealed by the boundary)."""
    if not client_samples(ctx):
        return None
    if round_trips(ctx):
        return RoundTripSampling(request_state, input_responses, max_tokens=max_tokens)
    return BackChannelSampling(ctx.session, ctx.request_id, max_tokens=max_tokens)


def sampling_request(messages: Sequence[Message], max_tokens: int) -> CreateMessageRequest:
    """The chat as a ``sampling/createMessage`` request: system messages become the
    system prompt (joined by blank lines), the rest the conversation, in order."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    turns = [
        SamplingMessage(role=m["role"], content=TextContent(type="text", text=m["content"]))
        for m in messages
        if m["role"] != "system"
    ]
    return CreateMessageRequest(
        params=CreateMessageRequestParams(messages=turns, system_prompt=system or None, max_tokens=max_tokens)
    )


def _estimate_tokens(text: str) -> int:
    """About four characters a token (what clients do not report)."""
    return (len(text) + 3) // 4


def _completion(request: CreateMessageRequest, result: CreateMessageResult, latency_s: float) -> Completion:
    content = result.content
    if not isinstance(content, TextContent):
        raise LLMError(
            "llm_refused", f"the client's LLM answered {content.type} content, not text", retryable=True
        )
    params = request.params
    asked = (params.system_prompt or "") + "".join(
        m.content.text for m in params.messages if isinstance(m.content, TextContent)
    )
    return Completion(
        text=content.text,
        model=result.model or SAMPLING_MODEL,
        prompt_tokens=_estimate_tokens(asked),
        completion_tokens=_estimate_tokens(content.text),
        latency_s=latency_s,
    )


class BackChannelSampling:
    """Sampling for handshake-era clients: a ``sampling/createMessage`` request to the
    client on the stream of the call being served (``request_id``)."""

    def __init__(self, session: ServerSession, request_id: RequestId | None, *, max_tokens: int) -> None:
        self._session = session
        self._request_id = request_id
        self._max_tokens = max_tokens

    @property
    def model(self) -> str:
        return SAMPLING_MODEL

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        response_format: Mapping[str, Any] | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        request = sampling_request(messages, max_tokens or self._max_tokens)
        started = time.monotonic()
        try:
            result = await self._session.send_request(
                request,
                CreateMessageResult,
                metadata=ServerMessageMetadata(related_request_id=self._request_id),
            )
        except NoBackChannelError as error:
            raise LLMError("llm_unavailable", f"the client cannot be asked to sample: {error}") from None
        except MCPError as error:
            raise LLMError("llm_refused", f"the client declined to sample: {error.error.message}") from None
        except ValidationError:
            message = "the client's sampling answer is malformed"
            raise LLMError("llm_refused", message, retryable=True) from None
        return _completion(request, result, time.monotonic() - started)


class _Answer(BaseModel):
    """One answered question: the digest of the request it answered and the completion."""

    q: str
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float

    def completion(self) -> Completion:
        return Completion(
            text=self.text,
            model=self.model,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            latency_s=self.latency_s,
        )


class _Asked(BaseModel):
    """The question last sent to the client: its wire key, digest and when (epoch s)."""

    key: str
    q: str
    at: float


class _State(BaseModel):
    v: int = _STATE_VERSION
    answers: list[_Answer] = []
    asked: _Asked | None = None


def _decode(request_state: str | None) -> _State:
    """The state of earlier rounds; none, malformed or of another version is a fresh
    start (the boundary has authenticated it, so this is only version drift)."""
    if not request_state:
        return _State()
    try:
        state = _State.model_validate(json.loads(request_state))
    except ValueError:
        return _State()
    return state if state.v == _STATE_VERSION else _State()


def _digest(request: CreateMessageRequest) -> str:
    rendered = json.dumps(
        request.params.model_dump(mode="json", by_alias=True, exclude_none=True),
        sort_keys=True,
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(hashlib.sha256(rendered.encode()).digest()[:16]).decode().rstrip("=")


class SamplingNeeded(Exception):
    """The planner asked a question the client has not answered yet (2026-07-28): the
    call answers :attr:`result` and resumes when the client retries with the answer."""

    def __init__(self, result: InputRequiredResult) -> None:
        super().__init__("the planner needs the client's LLM")
        self.result = result


class RoundTripSampling:
    """Sampling for 2026-07-28 clients: answers replayed from the request state, the
    next question raised as :class:`SamplingNeeded` (see the module docstring)."""

    def __init__(
        self, request_state: str | None, input_responses: InputResponses | None, *, max_tokens: int
    ) -> None:
        self._state = _decode(request_state)
        self._responses = input_responses or {}
        self._max_tokens = max_tokens
        self._replayed: list[_Answer] = []

    @property
    def model(self) -> str:
        return SAMPLING_MODEL

    @property
    def answers_latency_s(self) -> float:
        """The latency of the answers used so far, each from its asking to its arrival
        (the planner's own clock sees only this round)."""
        return sum(answer.latency_s for answer in self._replayed)

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        response_format: Mapping[str, Any] | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        request = sampling_request(messages, max_tokens or self._max_tokens)
        q = _digest(request)
        index = len(self._replayed)
        recorded = self._state.answers[index] if index < len(self._state.answers) else None
        if recorded is not None and recorded.q == q:
            self._replayed.append(recorded)
            return recorded.completion()
        key = _KEY.format(index)
        asked = self._state.asked
        answer = self._responses.get(key)
        if answer is not None and asked is not None and (asked.key, asked.q) == (key, q):
            completion = self._accept(request, answer.model_dump(mode="json", by_alias=True), asked.at)
            self._replayed.append(_Answer(q=q, **_fields(completion)))
            return completion
        state = _State(answers=self._replayed, asked=_Asked(key=key, q=q, at=time.time()))
        raise SamplingNeeded(
            InputRequiredResult(input_requests={key: request}, request_state=state.model_dump_json())
        )

    def _accept(self, request: CreateMessageRequest, wire: dict[str, Any], asked_at: float) -> Completion:
        try:
            result = CreateMessageResult.model_validate(wire)
        except ValidationError:
            raise LLMError(
                "llm_refused", "the client answered the sampling request with something else", retryable=True
            ) from None
        return _completion(request, result, max(0.0, time.time() - asked_at))


def _fields(completion: Completion) -> dict[str, Any]:
    return {
        "text": completion.text,
        "model": completion.model,
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "latency_s": completion.latency_s,
    }

