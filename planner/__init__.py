"""Planning (DESIGN §4, §8): plan loading and validation, and the LLM planner that turns
a goal into a validated plan (prompt, LLM call, JSON extraction, repair loop, replanning).

May import ``schemas``, ``registry`` and ``store``.
"""

from ._extract import JSONExtractionError, extract_json
from ._limits import Limits
from ._litellm import LiteLLMClient
from ._llm import LLM, Completion, LLMError, Message
from ._loading import PlanSourceError, load_plan, parse_plan_text
from ._planner import Planner, PlanningFailed, PlanningRound, PlanOutcome
from ._prompt import PROMPT_VERSION
from ._validate import ValidationResult, validate_plan

__all__ = [
    "LLM",
    "PROMPT_VERSION",
    "Completion",
    "JSONExtractionError",
    "LLMError",
    "Limits",
    "LiteLLMClient",
    "Message",
    "PlanOutcome",
    "PlanSourceError",
    "Planner",
    "PlanningFailed",
    "PlanningRound",
    "ValidationResult",
    "extract_json",
    "load_plan",
    "parse_plan_text",
    "validate_plan",
]
