"""The :class:`LLM` of any provider litellm knows: ``LiteLLMClient("openai/gpt-4o-mini")``.

litellm is imported on the first call, not with this module: its import takes seconds,
and without ``LITELLM_LOCAL_MODEL_COST_MAP`` it fetches a price list from the internet.

Structured output: a requested JSON-schema ``response_format`` is sent as is when
litellm says the model supports response schemas, downgraded to ``{"type":
"json_object"}`` when the model has a JSON mode, and dropped otherwise (the planner
extracts JSON from any text).

Errors (all :class:`LLMError`)::

    AuthenticationError, PermissionDeniedError          -> llm_auth
    RateLimitError                                      -> llm_rate_limited  (retryable)
    APIConnectionError, Timeout, ServiceUnavailable,
      InternalServerError, BadGateway                   -> llm_unavailable   (retryable)
    BadRequestError (context window too, NotFound)      -> llm_bad_request
    content filter, an empty answer                     -> llm_refused
    any other litellm/openai/httpx error                -> by HTTP status (401/403 auth,
                                                           429, 408/5xx, 4xx as above),
                                                           else llm_unavailable
    anything else (a bug)                               -> raised unchanged
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from ._llm import Completion, LLMError, Message

__all__ = ["LiteLLMClient"]


_READ_ONLY_WARNING = r".* on TypedDict class .* using the `ReadOnly` qualifier"
"""pydantic (2.12 and later) warns when it builds a schema for a TypedDict with
``ReadOnly`` items. litellm has such TypedDicts and builds their schemas on its first
calls (imports and lazy model rebuilds), so the warning concerns litellm's code, not the
caller's, and would reach a server's stderr on its first plan."""


def _litellm() -> Any:
    """litellm, imported on first use; every call (re)installs the filter that silences
    the warning above (an identical filter is replaced, not added again), so that a test
    harness resetting the filters between calls does not bring the warning back."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    warnings.filterwarnings("ignore", message=_READ_ONLY_WARNING, category=UserWarning)
    import litellm

    return litellm


class LiteLLMClient:
    """Chat completions through ``litellm.acompletion``.

    ``model`` is any litellm model string (``openai/gpt-4o-mini``, ``anthropic/...``,
    ``ollama/llama3``); ``api_base``/``api_key`` override the provider's defaults;
    ``extra`` is passed to every call. The openai client under litellm retries
    connection errors, 429 and 5xx twice with backoff before an error reaches here (about
    ten seconds against an endpoint that refuses connections); ``extra={"max_retries":
    0}`` turns that off when the caller retries itself (``LLMError.retryable``).
    """

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 60,
        temperature: float = 0.0,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self._model = model
        self._api_base = api_base
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._temperature = temperature
        self._extra = dict(extra or {})
        self._formats: tuple[bool, bool] | None = None

    @property
    def model(self) -> str:
        return self._model

    def __repr__(self) -> str:
        return f"LiteLLMClient({self._model!r}, api_base={self._api_base!r})"

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        response_format: Mapping[str, Any] | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        litellm = _litellm()
        sent = [{"role": m["role"], "content": m["content"]} for m in messages]
        kwargs: dict[str, Any] = {
            "model": self._model,
            "messages": sent,
            "timeout": self._timeout_s,
            "temperature": self._temperature,
            "drop_params": True,
            **self._extra,
        }
        if self._api_base is not None:
            kwargs["api_base"] = self._api_base
        if self._api_key is not None:
            kwargs["api_key"] = self._api_key
        if max_tokens is not None:
            kwargs["max_tokens"] = max_tokens
        fmt = self._response_format(litellm, response_format)
        if fmt is not None:
            kwargs["response_format"] = fmt

        start = time.perf_counter()
        try:
            response = await litellm.acompletion(**kwargs)
        except Exception as error:
            mapped = _llm_error(litellm, error)
            if mapped is None:
                raise  # not the provider's answer: a bug here or in litellm, keep it visible
            raise mapped from error
        latency = time.perf_counter() - start
        return self._completion(litellm, response, sent, latency)

    def _response_format(self, litellm: Any, requested: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if requested is None:
            return None
        schema_ok, json_ok = self._supported_formats(litellm)
        if requested.get("type") == "json_schema" and schema_ok:
            return dict(requested)
        if json_ok:
            return {"type": "json_object"}
        return None

    def _supported_formats(self, litellm: Any) -> tuple[bool, bool]:
        """(response schema supported, JSON mode supported), asked once per client."""
        if self._formats is None:
            try:
                schema_ok = bool(litellm.supports_response_schema(model=self._model))
            except Exception:  # unknown model: litellm raises rather than saying no
                schema_ok = False
            try:
                params = litellm.get_supported_openai_params(model=self._model) or []
            except Exception:
                params = []
            self._formats = (schema_ok, schema_ok or "response_format" in params)
        return self._formats

    def _completion(
        self, litellm: Any, response: Any, sent: list[dict[str, str]], latency: float
    ) -> Completion:
        choices = getattr(response, "choices", None) or []
        choice = choices[0] if choices else None
        message = getattr(choice, "message", None)
        text = getattr(message, "content", None)
        if getattr(choice, "finish_reason", None) == "content_filter":
            raise LLMError("llm_refused", f"{self._model} refused to answer (content filter)")
        if not isinstance(text, str) or not text.strip():
            raise LLMError("llm_refused", f"{self._model} returned an empty answer")
        usage = getattr(response, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        if not prompt_tokens:
            prompt_tokens = _count(litellm, self._model, messages=sent)
        if not completion_tokens:
            completion_tokens = _count(litellm, self._model, text=text)
        return Completion(
            text=text,
            model=str(getattr(response, "model", None) or self._model),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_s=latency,
        )


def _count(litellm: Any, model: str, **what: Any) -> int:
    try:
        return int(litellm.token_counter(model=model, **what))
    except Exception:  # a tokenizer that cannot load must not lose the plan
        text = what.get("text") or "".join(m["content"] for m in what.get("messages", []))
        return (len(text) + 3) // 4


def _llm_error(litellm: Any, error: Exception) -> LLMError | None:
    """The LLMError for a provider error; None for anything else (a programming error)."""
    message = f"{type(error).__name__}: {getattr(error, 'message', None) or error}"
    table: tuple[tuple[tuple[str, ...], str, bool], ...] = (
        (("AuthenticationError", "PermissionDeniedError"), "llm_auth", False),
        (("RateLimitError",), "llm_rate_limited", True),
        (
            (
                "Timeout",
                "APIConnectionError",
                "ServiceUnavailableError",
                "InternalServerError",
                "BadGatewayError",
            ),
            "llm_unavailable",
            True,
        ),
        (("ContentPolicyViolationError",), "llm_refused", False),
        (
            ("BadRequestError", "NotFoundError", "UnprocessableEntityError", "UnsupportedParamsError"),
            "llm_bad_request",
            False,
        ),
    )
    for names, code, retryable in table:
        classes = tuple(c for c in (getattr(litellm, n, None) for n in names) if isinstance(c, type))
        if classes and isinstance(error, classes):
            return LLMError(code, message, retryable=retryable)
    if type(error).__module__.split(".")[0] not in ("litellm", "openai", "httpx"):
        return None
    status = getattr(error, "status_code", None)
    if isinstance(status, int):  # litellm wraps some statuses (403 among them) in a bare APIError
        for statuses, code, retryable in _BY_STATUS:
            if status in statuses:
                return LLMError(code, message, retryable=retryable)
        if status >= 500:
            return LLMError("llm_unavailable", message, retryable=True)
    return LLMError("llm_unavailable", message, retryable=False)


_BY_STATUS: tuple[tuple[frozenset[int], str, bool], ...] = (
    (frozenset({401, 403}), "llm_auth", False),
    (frozenset({429}), "llm_rate_limited", True),
    (frozenset({408}), "llm_unavailable", True),
    (frozenset({400, 404, 413, 422}), "llm_bad_request", False),
)
