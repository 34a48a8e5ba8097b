"""Graph-level checks: dependencies, references, handlers and cycles (DESIGN §2–4).

Works on the raw document so it can run beside schema errors: a task whose fields are
malformed contributes what is well-formed and is otherwise left to the schema report.

Edges of the completion graph: ``t -> d`` for every dependency ``d`` of ``t`` (explicit,
or implied by a ``$<d.output>`` reference), and ``a -> h`` when ``h`` handles ``a``
(``a`` is finished only once its handler is). A cycle there can never finish, so each
strongly connected component is reported once, with one concrete cycle.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, TypeGuard

import networkx as nx

from planexec.schemas import (
    RESERVED_TASK_IDS,
    TASK_ID_PATTERN,
    ErrorCode,
    Problem,
    Ref,
    ReferenceSyntaxError,
    RefKind,
    WarningCode,
    json_pointer,
)

from ._references import Found, References

__all__ = ["check_semantics"]

_TASK_ID = re.compile(TASK_ID_PATTERN)


def _valid_id(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and _TASK_ID.match(value) is not None and value not in RESERVED_TASK_IDS


def _problem(
    code: ErrorCode | WarningCode, where: tuple[str | int, ...], message: str, hint: str = "", **detail: Any
) -> Problem:
    return Problem(code=code, path=json_pointer(*where), message=message, hint=hint, detail=detail)


class _Checker:
    def __init__(self, document: dict[str, Any]) -> None:
        raw = document.get("tasks")
        self.tasks: dict[str, dict[str, Any]] = (
            {k: v for k, v in raw.items() if isinstance(v, dict)} if isinstance(raw, dict) else {}
        )
        self.ids = set(raw) if isinstance(raw, dict) else set()
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self.deps: dict[str, list[str]] = {}
        self.handler_of: dict[str, str] = {}  # handler id -> handled task id

    def error(
        self, code: ErrorCode, where: tuple[str | int, ...], message: str, hint: str = "", **detail: Any
    ) -> None:
        self.errors.append(_problem(code, where, message, hint, **detail))

    def run(self, references: References) -> None:
        for task_id, task in self.tasks.items():
            self.dependencies(task_id, task)
        for task_id, task in self.tasks.items():
            self.handler(task_id, task)
        for task_id, found in references.parameters.items():
            self.references(("tasks", task_id, "parameters"), found, task_id)
        for task_id, found in references.compensation.items():
            self.references(("tasks", task_id, "compensation", "parameters"), found, None)
        self.references(("output",), references.output, None)
        self.depends_on_handlers()
        self.cycles()

    def dependencies(self, task_id: str, task: dict[str, Any]) -> None:
        deps: list[str] = []
        raw = task.get("dependencies")
        for index, dep in enumerate(raw if isinstance(raw, list) else []):
            if not _valid_id(dep):
                continue  # the schema report covers it
            if dep == task_id:
                self.error(
                    ErrorCode.SELF_DEPENDENCY,
                    ("tasks", task_id, "dependencies", index),
                    f"task {task_id!r} depends on itself",
                    "remove it from its own dependencies",
                )
            elif dep not in self.ids:
                self.error(
                    ErrorCode.UNKNOWN_DEPENDENCY,
                    ("tasks", task_id, "dependencies", index),
                    f"task {task_id!r} depends on {dep!r}, which is not a task of this plan",
                    _closest(dep, self.ids),
                    dependency=dep,
                )
            elif dep not in deps:
                deps.append(dep)
        self.deps[task_id] = deps

    def handler(self, task_id: str, task: dict[str, Any]) -> None:
        handling = task.get("error_handling")
        handler = handling.get("on_error") if isinstance(handling, dict) else None
        if not _valid_id(handler):
            return
        where = ("tasks", task_id, "error_handling", "on_error")
        if handler == task_id:
            self.error(
                ErrorCode.INVALID_HANDLER,
                where,
                f"task {task_id!r} names itself as its handler",
                "name another task, which runs only if this one fails",
            )
        elif handler not in self.ids:
            self.error(
                ErrorCode.UNKNOWN_HANDLER,
                where,
                f"handler {handler!r} is not a task of this plan",
                _closest(handler, self.ids),
                handler=handler,
            )
        elif handler in self.handler_of:
            self.error(
                ErrorCode.INVALID_HANDLER,
                where,
                f"task {handler!r} already handles {self.handler_of[handler]!r}",
                "a task may be the handler of at most one task; add another handler task",
                handler=handler,
                handles=self.handler_of[handler],
            )
        else:
            self.handler_of[handler] = task_id
            if task_id in self.deps.get(handler, []):
                self.error(
                    ErrorCode.INVALID_HANDLER,
                    ("tasks", handler, "dependencies"),
                    f"handler {handler!r} depends on {task_id!r}, the task it handles",
                    "a handler runs when that task failed; read $<task.error> instead",
                    handler=handler,
                    handles=task_id,
                )

    def references(self, base: tuple[str | int, ...], references: Found, owner: str | None) -> None:
        """Check references under ``base``; ``owner`` is the task whose parameters these
        are (references there imply dependencies), None for compensation and output."""
        for location, found in references:
            where = (*base, *location)
            if isinstance(found, ReferenceSyntaxError):
                self.error(
                    ErrorCode.INVALID_REFERENCE,
                    where,
                    f"malformed reference: {found.reason}",
                    "write $<task.output.key>, $<task.output[0]> or $<inputs.key>",
                    position=found.position,
                    text=found.text,
                )
                continue
            for ref in found.refs:
                self.reference(where, ref, owner)

    def reference(self, where: tuple[str | int, ...], ref: Ref, owner: str | None) -> None:
        if ref.kind is RefKind.INPUTS or ref.task is None:
            return
        target = ref.task
        shown = str(ref)
        if target not in self.ids:
            self.error(
                ErrorCode.UNKNOWN_REFERENCE_TARGET,
                where,
                f"{shown} refers to {target!r}, which is not a task of this plan",
                _closest(target, self.ids),
                reference=shown,
                target=target,
            )
            return
        if ref.kind is RefKind.ERROR:
            if owner is None or self.handler_of.get(owner) != target:
                self.error(
                    ErrorCode.INVALID_REFERENCE,
                    where,
                    f"{shown} can only be read by the handler of {target!r}",
                    f"set error_handling.on_error of {target!r} to this task",
                    reference=shown,
                )
            return
        if owner is None:
            return
        if target == owner:
            self.error(
                ErrorCode.SELF_DEPENDENCY,
                where,
                f"task {owner!r} references its own output",
                "a task cannot read its own output; split it in two",
                reference=shown,
            )
        elif self.handler_of.get(owner) == target:
            self.error(
                ErrorCode.INVALID_HANDLER,
                where,
                f"handler {owner!r} reads the output of {target!r}, the task it handles",
                "a handler runs when that task failed; read $<task.error> instead",
                reference=shown,
            )
        elif target not in self.deps.setdefault(owner, []):
            self.deps[owner].append(target)
            self.warnings.append(
                _problem(
                    WarningCode.IMPLICIT_DEPENDENCY,
                    where,
                    f"{shown} makes {owner!r} depend on {target!r}; added to its dependencies",
                    f"list {target!r} in dependencies",
                    task=owner,
                    dependency=target,
                )
            )

    def depends_on_handlers(self) -> None:
        """A handler runs only if the task it handles fails, so nothing may wait on it."""
        for task_id, deps in self.deps.items():
            for dep in deps:
                if dep in self.handler_of and self.handler_of[dep] != task_id:
                    handled = self.handler_of[dep]
                    self.error(
                        ErrorCode.INVALID_HANDLER,
                        ("tasks", task_id, "dependencies"),
                        f"task {task_id!r} depends on {dep!r}, the handler of {handled!r}, "
                        f"which runs only if {handled!r} fails",
                        f"depend on {handled!r}: when it is recovered, its output is the handler's",
                        handler=dep,
                        handles=handled,
                    )

    def cycles(self) -> None:
        graph = nx.DiGraph()
        graph.add_nodes_from(self.tasks)
        graph.add_edges_from(
            (task_id, dep) for task_id, deps in self.deps.items() for dep in deps if dep != task_id
        )
        for handler, handled in self.handler_of.items():
            if handled not in self.deps.get(handler, []):
                graph.add_edge(handled, handler)
        for component in nx.strongly_connected_components(graph):
            if len(component) < 2:
                continue
            start = min(component)
            edges = nx.find_cycle(graph.subgraph(component), source=start)
            cycle = [edge[0] for edge in edges]
            shown = " -> ".join([*cycle, cycle[0]])
            self.error(
                ErrorCode.CYCLE,
                ("tasks", cycle[0], "dependencies"),
                f"dependency cycle: {shown} (each waits for the next)",
                "remove one dependency (or reference) of the cycle",
                cycle=cycle,
            )


def _closest(name: str, candidates: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=3)
    return f"did you mean {', '.join(repr(c) for c in close)}?" if close else "check the task id"


def check_semantics(
    document: dict[str, Any], references: References
) -> tuple[list[Problem], list[Problem], dict[str, list[str]]]:
    """Return (errors, warnings, dependencies per task including implied ones)."""
    checker = _Checker(document)
    checker.run(references)
    checker.errors.sort(key=lambda p: p.path)
    return checker.errors, checker.warnings, checker.deps
