"""ToolSpec and tool results: what the registry knows about a tool and what a call returns.

Error tree of a tool call (see :class:`ToolCallError`)::

    ToolCallError            code, message, retryable, detail
      ├─ code=tool_error        the tool answered isError (retryable if it says so)
      ├─ code=transport_error   the source could not be reached (retryable)
      ├─ code=invalid_arguments arguments rejected against the input schema
      └─ code=tool_not_permitted / unknown tool
"""

from __future__ import annotations

import hashlib
import json
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
    "json_text",
    "tool_fingerprint",
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


_JSON = json.JSONEncoder(separators=(",", ":"), default=str)


def json_text(value: Any) -> str:
    """How a result reads as a text block: a string as it is, anything else as compact JSON."""
    return value if isinstance(value, str) else _JSON.encode(value)


class ToolResult:
    """A tool's answer, shaped like MCP's CallToolResult (content blocks as dicts).

    Immutable: ``content``, ``structured_content`` and ``is_error`` are read-only. A plain
    slotted class rather than a model, as it is made once per call: the sources build it
    from data they produced themselves, so nothing needs validating.
    :meth:`from_value` leaves the one text block to be written (as :func:`json_text`) the
    first time ``content`` is read: the executor reads ``structured_content``, only an
    MCP answer needs the text.
    """

    __slots__ = ("_content", "_is_error", "_meta", "_structured", "_text_of")
    _content: list[dict[str, Any]] | None
    """None until a :meth:`from_value` result's text block is written."""
    _structured: dict[str, Any] | None
    _is_error: bool
    _text_of: Any
    _meta: dict[str, Any] | None

    def __init__(
        self,
        content: list[dict[str, Any]] | None = None,
        structured_content: dict[str, Any] | None = None,
        is_error: bool = False,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self._content = [] if content is None else list(content)
        self._structured = structured_content
        self._is_error = is_error
        self._text_of = None
        self._meta = meta

    @classmethod
    def from_value(cls, value: Any, structured_content: dict[str, Any] | None) -> ToolResult:
        """A successful result whose content is one text block holding ``value``."""
        result = cls.__new__(cls)
        result._content = None
        result._structured = structured_content
        result._is_error = False
        result._text_of = value
        result._meta = None
        return result

    def with_meta(self, meta: dict[str, Any]) -> ToolResult:
        """This result with ``meta`` added to its ``meta`` (how the registry notes, for
        instance, a cache hit; the executor records it with the attempt)."""
        return ToolResult(self.content, self._structured, self._is_error, {**(self._meta or {}), **meta})

    @property
    def content(self) -> list[dict[str, Any]]:
        content = self._content
        if content is None:  # from_value: write the text block now, once
            content = self._content = [{"type": "text", "text": json_text(self._text_of)}]
            self._text_of = None
        return content

    @property
    def structured_content(self) -> dict[str, Any] | None:
        return self._structured

    @property
    def is_error(self) -> bool:
        return self._is_error

    @property
    def meta(self) -> dict[str, Any] | None:
        """What the registry learned about the call (``planexec/cache``: hit or miss);
        not part of the tool's answer, so equality ignores it."""
        return self._meta

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ToolResult):
            return NotImplemented
        return (self.is_error, self.structured_content, self.content) == (
            other.is_error,
            other.structured_content,
            other.content,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable contents, like a dict

    def __repr__(self) -> str:
        return (
            f"ToolResult(content={self.content!r}, structured_content={self.structured_content!r}, "
            f"is_error={self.is_error!r})"
        )

    @property
    def retryable(self) -> bool:
        """An error result is retryable when its structured body says so."""
        return bool(self._is_error and (self._structured or {}).get("retryable") is True)

    def error_message(self) -> str:
        body = self._structured or {}
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


def tool_fingerprint(spec: ToolSpec) -> str:
    """A hash of everything a plan relies on in ``spec``: name, description, schemas,
    annotations and source (not timeouts, cache or trust, which the server may tune)."""
    pinned = spec.model_dump(
        mode="json", include={"name", "description", "input_schema", "output_schema", "annotations", "source"}
    )
    canonical = json.dumps(pinned, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
