"""The tools one caller sees: the server's catalog, then the tenant's policy, then the
session's overlay (DESIGN §6), as one :class:`~._catalog.ToolView`.

Precedence: a name in the server's catalog is the catalog's tool; a session cannot
shadow it (the overlay refuses such names when a source is added, and the catalog wins
here regardless). The policy applies to both layers alike.

Visibility is enforced three times: :meth:`LayeredView.specs` lists permitted tools
only; :meth:`LayeredView.is_permitted` is what validation asks (a denied tool is
``tool_not_permitted``, an absent one ``unknown_tool``); :meth:`LayeredView.call`
checks again and raises ``ToolCallError(tool_not_permitted)`` with the reason in
``detail``. Calls of cacheable tools go through the result cache when one is given.

:func:`tool_fingerprint` pins what a validated plan relied on: a tool whose name,
description, schemas, annotations or source changed has another fingerprint, so
execution can refuse a plan validated against the old tool (rug-pull guard).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._cache import ResultCache
from ._catalog import ToolView
from ._policy import Caller, Denial, Policy
from ._spec import ToolCallError, ToolErrorCode, ToolResult, ToolSpec, tool_fingerprint

__all__ = ["LayeredView", "tool_fingerprint", "tool_fingerprints"]

_ALLOW_ALL = Policy()


class LayeredView:
    """``base`` (the server's tools) and ``overlay`` (the session's), filtered by
    ``policy`` for ``caller``; calls through ``cache`` when given."""

    def __init__(
        self,
        base: ToolView,
        caller: Caller,
        *,
        overlay: ToolView | None = None,
        overlay_scope: str = "",
        policy: Policy = _ALLOW_ALL,
        cache: ResultCache | None = None,
    ) -> None:
        self.base = base
        self.overlay = overlay
        self.overlay_scope = overlay_scope
        self.caller = caller
        self.policy = policy
        self.cache = cache

    def _owner(self, name: str) -> tuple[ToolView, ToolSpec] | None:
        spec = self.base.get(name)
        if spec is not None:
            return self.base, spec
        if self.overlay is not None:
            spec = self.overlay.get(name)
            if spec is not None:
                return self.overlay, spec
        return None

    def get(self, name: str) -> ToolSpec | None:
        found = self._owner(name)
        return found[1] if found is not None else None

    def denial(self, name: str) -> Denial | None:
        """Why the caller may not use ``name`` (None: it may, or there is no such tool)."""
        spec = self.get(name)
        return self.policy.denial(spec, self.caller) if spec is not None else None

    def is_permitted(self, name: str) -> bool:
        found = self._owner(name)
        if found is None:
            return False
        owner, spec = found
        return owner.is_permitted(name) and self.policy.denial(spec, self.caller) is None

    def specs(self) -> list[ToolSpec]:
        layers = [self.base] if self.overlay is None else [self.base, self.overlay]
        seen: set[str] = set()
        visible: list[ToolSpec] = []
        for layer in layers:
            for spec in layer.specs():
                if spec.name in seen:
                    continue
                seen.add(spec.name)
                if layer.is_permitted(spec.name) and self.policy.denial(spec, self.caller) is None:
                    visible.append(spec)
        return visible

    async def call(self, name: str, arguments: Mapping[str, Any], meta: Mapping[str, Any]) -> ToolResult:
        found = self._owner(name)
        if found is None or not found[0].is_permitted(name):
            message = f"unknown tool {name!r}"
            raise ToolCallError(ToolErrorCode.TOOL_NOT_PERMITTED, message, detail={"tool": name})
        owner, spec = found
        denial = self.policy.denial(spec, self.caller)
        if denial is not None:
            raise ToolCallError(
                ToolErrorCode.TOOL_NOT_PERMITTED,
                denial.message(),
                detail={"tool": name, "reason": denial.reason.value, "needed": denial.needed},
            )
        if self.cache is None:
            return await owner.call(name, arguments, meta)

        async def call() -> ToolResult:
            return await owner.call(name, arguments, meta)

        # The server's tools cache per tenant; a session's own tools per session (two
        # sessions may connect different servers under one alias).
        scope = "" if owner is self.base else self.overlay_scope
        return await self.cache.call(self.caller.tenant, spec, arguments, call, scope=scope)


def tool_fingerprints(view: ToolView, names: Iterable[str]) -> dict[str, str | None]:
    """The fingerprint of each named tool as ``view`` has it (None: the tool is gone)."""
    out: dict[str, str | None] = {}
    for name in sorted(set(names)):
        spec = view.get(name)
        out[name] = tool_fingerprint(spec) if spec is not None else None
    return out
