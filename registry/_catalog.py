"""The in-memory tool catalog: tool sources merged into one name space.

:class:`ToolView` is what validation and the executor need from a registry: look a tool
up, ask whether the caller may use it, call it. :class:`Catalog` is the plain
server-wide implementation; :class:`~._layers.LayeredView` puts the tenant's policy
and the session's overlay on top of it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from ._spec import ToolCallError, ToolErrorCode, ToolResult, ToolSpec

__all__ = ["Catalog", "DuplicateToolError", "ToolSource", "ToolView"]


@runtime_checkable
class ToolSource(Protocol):
    """A provider of tools: in-process functions, an upstream MCP server, HTTP endpoints."""

    name: str

    def specs(self) -> list[ToolSpec]: ...

    async def call(self, name: str, arguments: Mapping[str, Any], meta: Mapping[str, Any]) -> ToolResult: ...


class ToolView(Protocol):
    """The tools one caller sees (validation and execution go through this)."""

    def get(self, name: str) -> ToolSpec | None: ...

    def is_permitted(self, name: str) -> bool: ...

    def specs(self) -> list[ToolSpec]: ...

    async def call(self, name: str, arguments: Mapping[str, Any], meta: Mapping[str, Any]) -> ToolResult: ...


class DuplicateToolError(ValueError):
    """Two sources offer the same tool name."""


class Catalog:
    """Tools of several sources under one name space; names must be unique."""

    def __init__(self, sources: Iterable[ToolSource] = ()) -> None:
        self._sources: dict[str, ToolSource] = {}
        self._specs: dict[str, ToolSpec] = {}
        self._owner: dict[str, ToolSource] = {}
        self._listeners: dict[object, Callable[[], Awaitable[None]]] = {}
        for source in sources:
            self.add_source(source)

    def subscribe(self, listener: Callable[[], Awaitable[None]]) -> Callable[[], None]:
        """Call ``listener`` after :meth:`source_changed` changed the tools; returns the
        unsubscribe function."""
        token = object()
        self._listeners[token] = listener

        def unsubscribe() -> None:
            self._listeners.pop(token, None)

        return unsubscribe

    async def source_changed(self, name: str) -> None:
        """Re-read the tools of source ``name`` (it announced a change), then tell the
        subscribers. A new tool named like another source's is left out (the other
        source keeps it) rather than taking the name over."""
        source = self._sources[name]
        for tool_name in [n for n, owner in self._owner.items() if owner is source]:
            del self._specs[tool_name]
            del self._owner[tool_name]
        for spec in source.specs():
            if spec.name not in self._specs:
                self._specs[spec.name] = spec
                self._owner[spec.name] = source
        for listener in list(self._listeners.values()):
            await listener()

    def add_source(self, source: ToolSource) -> None:
        """Add every tool of ``source``; raise DuplicateToolError (adding nothing) on a clash."""
        specs = source.specs()
        clash = sorted({s.name for s in specs} & set(self._specs))
        if source.name in self._sources:
            raise DuplicateToolError(f"a source named {source.name!r} is already registered")
        if clash:
            raise DuplicateToolError(f"tools already registered: {', '.join(clash)}")
        self._sources[source.name] = source
        for spec in specs:
            self._specs[spec.name] = spec
            self._owner[spec.name] = source

    def remove_source(self, name: str) -> None:
        source = self._sources.pop(name)
        for tool_name in [n for n, owner in self._owner.items() if owner is source]:
            del self._specs[tool_name]
            del self._owner[tool_name]

    def get(self, name: str) -> ToolSpec | None:
        return self._specs.get(name)

    def is_permitted(self, name: str) -> bool:
        return name in self._specs

    def specs(self) -> list[ToolSpec]:
        return list(self._specs.values())

    async def call(self, name: str, arguments: Mapping[str, Any], meta: Mapping[str, Any]) -> ToolResult:
        source = self._owner.get(name)
        if source is None:
            raise ToolCallError(ToolErrorCode.TOOL_NOT_PERMITTED, f"unknown tool {name!r}")
        return await source.call(name, arguments, meta)
