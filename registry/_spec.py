"""ToolSpec and tool results: what the registry knows about a tool and what a call returns.

Error tree of a tool call (see :class:`ToolCallError`)::

    ToolCallError            code, message, retryable, detail
      ├─ code=tool_error        the tool answered isError (retryable if it says so)
      ├─ code=transport_error   the source could not be reached (retryable)
      ├─ code=invalid_arguments arguments rejected against the input schema
      └─ code=tool_not_permitted / unknown tool
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ToolAnnotations",
    "ToolCallError",
    "ToolErrorCode",
    "ToolResult",
    "ToolSpec",
    "TrustTier",
]


class TrustTier(StrEnum):
    TRUSTED = "trusted"
    VERIFIED = "verified"
    UNTRUSTED = "untrusted"


class ToolErrorCode(StrEnum):
    """Error codes of a tool call (the subset of DESIGN §5 a source can raise)."""

    TOOL_ERROR = "tool_error"
    TRANSPORT_ERROR = "transport_error"
    INVALID_ARGUMENTS = "invalid_arguments"
    TOOL_NOT_PERMITTED = "tool_not_permitted"
    TIMEOUT = "timeout"


class ToolAnnotations(BaseModel):
    """MCP tool annotations (hints; None means unknown, treated per the MCP defaults)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    read_only: bool | None = None
    destructive: bool | None = None
    idempotent: bool | None = None
    open_world: bool | None = None


class ToolSpec(BaseModel):
    """Everything planexec knows about one tool (DESIGN §6)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    output_schema: dict[str, Any] | None = None
    annotations: ToolAnnotations = ToolAnnotations()
    trust: TrustTier = TrustTier.TRUSTED
    cache_ttl_s: float | None = None
    required_scopes: tuple[str, ...] = ()
    timeout_s: float | None = None
    source: str = "local"
    max_concurrency: int | None = Field(default=None, ge=1)

    @property
    def idempotent(self) -> bool:
        """True when a repeated call is safe: read-only or annotated idempotent."""
        return bool(self.annotations.read_only or self.annotations.idempotent)


class ToolResult(BaseModel):
    """A tool's answer, shaped like MCP's CallToolResult (content blocks as dicts)."""

    model_config = ConfigDict(frozen=True)

    content: list[dict[str, Any]] = Field(default_factory=list)
    structured_content: dict[str, Any] | None = None
    is_error: bool = False

    @property
    def retryable(self) -> bool:
        """An error result is retryable when its structured body says so."""
        return bool(self.is_error and (self.structured_content or {}).get("retryable") is True)

    def error_message(self) -> str:
        body = self.structured_content or {}
        if isinstance(body.get("message"), str):
            return str(body["message"])
        texts = [b.get("text", "") for b in self.content if b.get("type") == "text"]
        return " ".join(t for t in texts if t) or "the tool reported an error"


class ToolCallError(Exception):
    """A failed tool call, with a stable code and whether a retry may help."""

    def __init__(
        self,
        code: ToolErrorCode,
        message: str,
        *,
        retryable: bool = False,
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.detail = detail or {}
