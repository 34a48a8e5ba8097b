"""Tool specs, tool sources and the catalog (DESIGN §6). May import ``schemas`` only."""

from ._cache import CacheBackend, CacheOutcome, MemoryCache, ResultCache
from ._catalog import Catalog, DuplicateToolError, ToolSource, ToolView
from ._demo import demo_source, ledger_snapshot, reset_demo_state
from ._hosts import HostAllowList, HostNotAllowed
from ._http_source import HttpEndpoint, HttpToolSource
from ._layers import LayeredView, tool_fingerprint, tool_fingerprints
from ._mcp_source import McpToolSource, UpstreamUnavailable
from ._policy import Caller, Denial, DenialReason, Policy, PolicyError
from ._python import PythonToolSource, RetryableToolError, ToolContext, ToolError, tool
from ._spec import ToolAnnotations, ToolCallError, ToolErrorCode, ToolResult, ToolSpec, TrustTier

__all__ = [
    "CacheBackend",
    "CacheOutcome",
    "Caller",
    "Catalog",
    "Denial",
    "DenialReason",
    "DuplicateToolError",
    "HostAllowList",
    "HostNotAllowed",
    "HttpEndpoint",
    "HttpToolSource",
    "LayeredView",
    "McpToolSource",
    "MemoryCache",
    "Policy",
    "PolicyError",
    "PythonToolSource",
    "ResultCache",
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
    "UpstreamUnavailable",
    "demo_source",
    "ledger_snapshot",
    "reset_demo_state",
    "tool",
    "tool_fingerprint",
    "tool_fingerprints",
]
