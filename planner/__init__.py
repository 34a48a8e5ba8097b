"""Planning: plan loading and validation (DESIGN §4); the LLM planner comes later.

May import ``schemas``, ``registry`` and ``store``.
"""

from ._limits import Limits
from ._loading import PlanSourceError, load_plan, parse_plan_text
from ._validate import ValidationResult, validate_plan

__all__ = ["Limits", "PlanSourceError", "ValidationResult", "load_plan", "parse_plan_text", "validate_plan"]
