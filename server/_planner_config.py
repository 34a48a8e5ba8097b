"""How the server plans: which LLM ``create_plan`` asks, and with which options.

:class:`PlannerConfig` is part of :class:`._mcp_services.Services`, built once at the
edge (:func:`planner_config` from :class:`._config.PlannerSettings`, or by a test with a
scripted model). Per call, the LLM is, in this order of precedence:

1. the configured model (``llm``: a :class:`~planexec.planner.LiteLLMClient` for
   ``PLANEXEC_PLANNER_MODEL``, or whatever :class:`~planexec.planner.LLM` a test hands in);
2. else the connected client's own LLM through MCP sampling, when the client declared the
   ``sampling`` capability (``_mcp_sampling``);
3. else ``PlannerNotConfigured``, which says how to configure one.

``request_state`` seals the state of multi-round-trip calls (MCP 2026-07-28 sampling)
on its way to the client and back. Its default is a random key of this process: state
minted by another replica (or before a restart) is refused, so several replicas behind
one URL must share ``PLANEXEC_REQUEST_STATE_KEY``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mcp.server.request_state import RequestStateSecurity

from planexec.planner import LLM, Limits, LiteLLMClient, Planner

from ._config import PlannerSettings

__all__ = ["REQUEST_STATE_AUDIENCE", "PlannerConfig", "planner_config"]

REQUEST_STATE_AUDIENCE = "planexec"
"""The audience sealed into request state: state minted by another service sharing the
key is refused."""


@dataclass(frozen=True, slots=True)
class PlannerConfig:
    """The planner's wiring: the configured model (None: sampling or nothing), the
    repair rounds, the prompt's token budget, the completion's token cap, the largest
    ``replan_on_failure`` accepted, and the request-state protection."""

    llm: LLM | None = None
    max_repairs: int = 2
    context_budget_tokens: int = 12_000
    max_tokens: int = 4096
    request_state: RequestStateSecurity = field(default_factory=RequestStateSecurity.ephemeral)

    def __post_init__(self) -> None:
        if self.max_repairs < 0 or self.context_budget_tokens < 1 or self.max_tokens < 1:
            raise ValueError("planner limits: max_repairs >= 0, token budgets >= 1")

    def planner(self, llm: LLM, limits: Limits) -> Planner:
        """A planner asking ``llm``, validating against ``limits``."""
        return Planner(
            llm,
            max_repairs=self.max_repairs,
            context_budget_tokens=self.context_budget_tokens,
            limits=limits,
            max_tokens=self.max_tokens,
        )


def planner_config(settings: PlannerSettings) -> PlannerConfig:
    """The wiring for ``settings``: a litellm client when a model is configured."""
    llm: LLM | None = None
    if settings.model is not None:  # litellm itself is imported on the first call
        api_key = settings.api_key.get_secret_value() if settings.api_key is not None else None
        llm = LiteLLMClient(settings.model, api_base=settings.api_base, api_key=api_key)
    key = settings.request_state_key
    return PlannerConfig(
        llm=llm,
        max_repairs=settings.max_repairs,
        context_budget_tokens=settings.context_tokens,
        request_state=RequestStateSecurity(keys=[key.get_secret_value()])
        if key is not None
        else RequestStateSecurity.ephemeral(),
    )
