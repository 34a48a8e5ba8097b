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
        self._unlimited: set[str] = set()
        """Tools with neither a tool nor a server limit: only the plan's limit counts."""

    def push(self, task_id: str, rank: int, spec: ToolSpec) -> None:
        name = spec.name
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues[name] = []
            if name not in self._specs:
                self._specs[name] = spec
                self._by_tool[name] = 0
                self._by_server.setdefault(spec.source, 0)
                if spec.max_concurrency is None and spec.source not in self._per_server:
                    self._unlimited.add(name)
        heapq.heappush(queue, (-rank, task_id))

    def _has_room(self, tool: str) -> bool:
        spec = self._specs[tool]
        tool_limit = spec.max_concurrency
        if tool_limit is not None and self._by_tool[tool] >= tool_limit:
            return False
        server_limit = self._per_server.get(spec.source)
        return server_limit is None or self._by_server[spec.source] < server_limit

    def pop(self) -> tuple[str, ToolSpec] | None:
        if self._in_use >= self._plan_limit:
            return None
        best: tuple[int, str] | None = None
        best_tool = ""
        for tool, queue in self._queues.items():
            head = queue[0]
            if (best is None or head < best) and (tool in self._unlimited or self._has_room(tool)):
                best, best_tool = head, tool
        if best is None:
            return None
        queue = self._queues[best_tool]
        heapq.heappop(queue)
        if not queue:
            del self._queues[best_tool]
        spec = self._specs[best_tool]
        self._in_use += 1
        self._by_tool[best_tool] += 1
        self._by_server[spec.source] += 1
        return best[1], spec

    def release(self, spec: ToolSpec) -> None:
        self._in_use -= 1
        self._by_tool[spec.name] -= 1
        self._by_server[spec.source] -= 1
