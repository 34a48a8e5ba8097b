"""Concurrency limits and the queue of ready tasks that waits on them.

Three limits hold at once: per plan (``PlanObject.max_concurrency``, capped by
:attr:`Limits.max_concurrency`), per server (``Limits.per_server`` keyed by
``ToolSpec.source``) and per tool (``ToolSpec.max_concurrency``). They count the calls of
one run. A task blocked by its tool's or server's limit does not hold back ready tasks of
other tools.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field

from planexec.registry import ToolSpec

__all__ = ["Admission", "Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits of an :class:`~planexec.executor.Executor`, per run: at most
    ``max_concurrency`` calls in flight (a plan may ask for fewer, never more) and
    ``per_server[source]`` calls to the tools of one source."""

    max_concurrency: int = 256
    per_server: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_concurrency < 1 or any(limit < 1 for limit in self.per_server.values()):
            raise ValueError("concurrency limits must be at least 1")


class Admission:
    """Ready tasks waiting for a slot, and the slots taken.

    :meth:`pop` hands out the ready task with the highest rank (ties: the smaller id) among
    those whose plan, server and tool limits all have room, and takes its slots;
    :meth:`release` gives them back.
    """

    def __init__(self, plan_limit: int, per_server: Mapping[str, int]) -> None:
        self._plan_limit = plan_limit
        self._per_server = per_server
        self._queues: dict[str, list[tuple[int, str]]] = {}
        self._specs: dict[str, ToolSpec] = {}
        self._in_use = 0
        self._by_tool: dict[str, int] = {}
        self._by_server: dict[str, int] = {}

    def push(self, task_id: str, rank: int, spec: ToolSpec) -> None:
        self._specs[spec.name] = spec
        heapq.heappush(self._queues.setdefault(spec.name, []), (-rank, task_id))

    def _has_room(self, spec: ToolSpec) -> bool:
        tool_limit = spec.max_concurrency
        if tool_limit is not None and self._by_tool.get(spec.name, 0) >= tool_limit:
            return False
        server_limit = self._per_server.get(spec.source)
        return server_limit is None or self._by_server.get(spec.source, 0) < server_limit

    def pop(self) -> tuple[str, ToolSpec] | None:
        if self._in_use >= self._plan_limit:
            return None
        best: tuple[int, str] | None = None
        best_tool = ""
        for tool, queue in self._queues.items():
            if (best is None or queue[0] < best) and self._has_room(self._specs[tool]):
                best, best_tool = queue[0], tool
        if best is None:
            return None
        queue = self._queues[best_tool]
        heapq.heappop(queue)
        if not queue:
            del self._queues[best_tool]
        spec = self._specs[best_tool]
        self._in_use += 1
        self._by_tool[spec.name] = self._by_tool.get(spec.name, 0) + 1
        self._by_server[spec.source] = self._by_server.get(spec.source, 0) + 1
        return best[1], spec

    def release(self, spec: ToolSpec) -> None:
        self._in_use -= 1
        self._by_tool[spec.name] -= 1
        self._by_server[spec.source] -= 1
