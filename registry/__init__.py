"""Tool specs, tool sources and the catalog (DESIGN §6). May import ``schemas`` only."""

from ._catalog import Catalog, DuplicateToolError, ToolSource, ToolView
from ._demo import demo_source, ledger_snapshot, reset_demo_state
from ._python import PythonToolSource, RetryableToolError, ToolContext, ToolError, tool
from ._spec import ToolAnnotations, ToolCallError, ToolErrorCode, ToolResult, ToolSpec, TrustTier

__all__ = [
    "Catalog",
    "DuplicateToolError",
    "PythonToolSource",
    "RetryableToolError",
    "ToolAnnotations",
    "ToolCallError",
    "ToolContext",
    "ToolError",
    "ToolErrorCode",
    "ToolResult",
    "ToolSource",
    "ToolSpec",
    "ToolView",
    "TrustTier",
    "demo_source",
    "ledger_snapshot",
    "reset_demo_state",
    "tool",
]
