"""Convert the seeds' node form of a plan into the canonical PlanObject (DESIGN §2).

The node form (usually written in YAML)::

    PlanSpecification:            # optional wrapper
      metadata: {id: ...}
      nodes:
        - {id, type: tool_execution, tool, parameters, dependencies, timeout, retry}
        - {id, type: parallel_group, children: [nodes...], dependencies}
      edges: [{from, to, condition}]
      error_handlers:
        - {trigger: node_failure, node_pattern: "*-analysis",
           action: {type, handler, parameters?}}

Rules: a ``parallel_group`` is flattened; its children inherit its dependencies, and a
dependency on the group means a dependency on every task inside it. An edge ``from -> to``
adds ``from`` to ``to``'s dependencies. Edge conditions that restate the default
semantics (``<from>.status == 'success'``, ``all_children_complete``) are accepted; any
other condition is an error, because dropping it would change what the plan does. An
error handler whose ``node_pattern`` (fnmatch) matches tasks gives each matched task its
own handler task ``<task>__on_error`` calling ``action.handler`` (a tool) with
``action.parameters`` (default: the failed task's parameters), unless ``action.handler``
names a node of the plan, which then handles the single task the pattern matches. The
first handler that matches a task wins; a node's own ``error_handling`` beats them all.
``timeout`` becomes ``timeout_s``; ``retry.backoff: exponential|linear|fixed`` becomes a
factor. Conversion problems use the stable validation codes with paths into the source.
"""

from __future__ import annotations

import copy
import fnmatch
import re
from collections.abc import Iterator
from typing import Any

from ._models import UUID_PATTERN
from ._problems import ErrorCode, Problem, WarningCode, json_pointer

__all__ = ["convert_node_form", "is_node_form"]

_DEFAULT_CONDITION = re.compile(r"""^\s*([A-Za-z0-9_-]+)\.status\s*==\s*['"]?success['"]?\s*$""")
_BACKOFF = {"exponential": 2.0, "linear": 1.0, "fixed": 1.0, "constant": 1.0, "none": 1.0}
_TASK_KEYS = {
    "description": "description",
    "timeout": "timeout_s",
    "timeout_s": "timeout_s",
    "retry_after_timeout": "retry_after_timeout",
    "compensation": "compensation",
    "error_handling": "error_handling",
}
_PLAN_KEYS = ("goal", "inputs", "max_concurrency", "timeout_s", "on_failure", "output")


def is_node_form(document: Any) -> bool:
    if not isinstance(document, dict):
        return False
    if "tasks" in document:
        return False
    body = document.get("PlanSpecification", document)
    return isinstance(body, dict) and "nodes" in body


def _problem(code: ErrorCode, where: tuple[str | int, ...], message: str, hint: str) -> Problem:
    return Problem(code=code, path=json_pointer(*where), message=message, hint=hint)


class _Converter:
    def __init__(self, base: tuple[str | int, ...]) -> None:
        self.base = base
        self.tasks: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, list[str]] = {}
        self.errors: list[Problem] = []
        self.handler_ids: set[str] = set()

    def error(self, where: tuple[str | int, ...], message: str, hint: str = "") -> None:
        self.errors.append(_problem(ErrorCode.SCHEMA_VIOLATION, (*self.base, *where), message, hint))

    def add_nodes(self, nodes: Any, where: tuple[str | int, ...], inherited: list[str]) -> list[str]:
        """Add ``nodes`` (iteratively, groups included); return the task ids added."""
        added: list[str] = []
        if not isinstance(nodes, list):
            self.error(where, "expected a list of nodes")
            return added
        # A stack of iterators, so tasks come out in document order (a group's children
        # before the nodes after the group) without recursion.
        stack: list[tuple[Iterator[tuple[int, Any]], tuple[str | int, ...], list[str], str | None]] = [
            (enumerate(nodes), where, inherited, None)
        ]
        while stack:
            items, at, deps, group = stack[-1]
            for index, node in items:
                node_at = (*at, index)
                if not isinstance(node, dict) or not isinstance(node.get("id"), str):
                    self.error(node_at, "a node is an object with a string 'id'")
                    continue
                node_id = node["id"]
                if node_id in self.tasks or node_id in self.groups:
                    self.error((*node_at, "id"), f"duplicate node id {node_id!r}")
                    continue
                own = node.get("dependencies", [])
                if not isinstance(own, list):
                    self.error((*node_at, "dependencies"), "expected a list of node ids")
                    own = []
                node_deps = [*deps, *own]
                if node.get("type") == "parallel_group" or "children" in node:
                    self.groups[node_id] = []
                    children = node.get("children", [])
                    if not isinstance(children, list):
                        self.error((*node_at, "children"), "expected a list of nodes")
                        children = []
                    if group is not None:
                        self.groups[group].append(node_id)
                    stack.append((enumerate(children), (*node_at, "children"), node_deps, node_id))
                    break
                self.tasks[node_id] = self.task(node, node_at, node_deps)
                added.append(node_id)
                if group is not None:
                    self.groups[group].append(node_id)
            else:
                stack.pop()
        return added

    def task(self, node: dict[str, Any], at: tuple[str | int, ...], deps: list[str]) -> dict[str, Any]:
        # A private copy per task: the normaliser rewrites parameters in place, which must
        # neither touch the caller's document nor reach another task through a YAML alias.
        node = copy.deepcopy(node)
        task: dict[str, Any] = {
            "tool_name": node.get("tool", node.get("tool_name")),
            "parameters": node.get("parameters", {}),
            "dependencies": list(dict.fromkeys(deps)),
        }
        for source, target in _TASK_KEYS.items():
            if source in node:
                task[target] = node[source]
        unknown = set(node) - {
            "id",
            "type",
            "tool",
            "tool_name",
            "parameters",
            "dependencies",
            "retry",
            *_TASK_KEYS,
        }
        for key in sorted(unknown):
            self.error((*at, key), f"unknown node field {key!r}")
        if node.get("type", "tool_execution") != "tool_execution":
            self.error(
                (*at, "type"),
                f"unknown node type {node.get('type')!r}",
                "use tool_execution or parallel_group",
            )
        if "retry" in node:
            task["retry"] = self.retry(node["retry"], (*at, "retry"))
        return task

    def retry(self, retry: Any, at: tuple[str | int, ...]) -> Any:
        if not isinstance(retry, dict):
            return retry
        out = dict(retry)
        backoff = out.get("backoff")
        if isinstance(backoff, str):
            if backoff.lower() not in _BACKOFF:
                self.error(
                    (*at, "backoff"),
                    f"unknown backoff {backoff!r}",
                    "use exponential, linear, fixed or a number >= 1",
                )
            out["backoff"] = _BACKOFF.get(backoff.lower(), 2.0)
        return out

    def expand(self, node_id: str) -> list[str]:
        """Task ids a dependency on ``node_id`` stands for (groups expand to members)."""
        out: list[str] = []
        stack = [node_id]
        while stack:
            current = stack.pop()
            if current in self.groups:
                stack.extend(reversed(self.groups[current]))
            else:
                out.append(current)
        return out


def convert_node_form(document: dict[str, Any]) -> tuple[dict[str, Any], list[Problem], list[Problem]]:
    """Return (canonical plan dict, errors, warnings)."""
    wrapped = "PlanSpecification" in document
    body: dict[str, Any] = document["PlanSpecification"] if wrapped else document
    conv = _Converter(("PlanSpecification",) if wrapped else ())
    conv.add_nodes(body.get("nodes"), ("nodes",), [])

    for task in conv.tasks.values():
        task["dependencies"] = list(
            dict.fromkeys(d for dep in task["dependencies"] for d in conv.expand(dep))
        )
    _apply_edges(conv, body.get("edges", []))
    _apply_error_handlers(conv, body.get("error_handlers", []))

    plan: dict[str, Any] = {key: copy.deepcopy(body[key]) for key in _PLAN_KEYS if key in body}
    metadata = body.get("metadata")
    if isinstance(metadata, dict):
        plan["metadata"] = copy.deepcopy(metadata)
        # Only a real UUID becomes the plan id; placeholders like "plan-uuid" stay in
        # metadata and validation assigns an id (with its assigned_plan_id warning).
        if isinstance(metadata.get("id"), str) and re.match(UUID_PATTERN, metadata["id"]):
            plan["plan_id"] = metadata["id"]
    plan["tasks"] = conv.tasks
    warnings = [
        Problem(
            code=WarningCode.CONVERTED_FORMAT,
            path="",
            message=f"converted a node-form plan ({len(conv.tasks)} tasks, "
            f"{len(conv.groups)} parallel groups) to the canonical PlanObject",
            hint="problem paths after conversion point into the canonical plan",
        )
    ]
    return plan, conv.errors, warnings


def _apply_edges(conv: _Converter, edges: Any) -> None:
    if not isinstance(edges, list):
        conv.error(("edges",), "expected a list of {from, to} edges")
        return
    for index, edge in enumerate(edges):
        at = ("edges", index)
        if not isinstance(edge, dict) or not all(isinstance(edge.get(k), str) for k in ("from", "to")):
            conv.error(at, "an edge is an object with string 'from' and 'to'")
            continue
        condition = edge.get("condition")
        if condition is not None and not _is_default_condition(condition, edge["from"]):
            conv.error(
                (*at, "condition"),
                f"conditional edges are not supported: {condition!r}",
                "planexec runs a task when all its dependencies succeeded; "
                "express alternatives with error_handling.on_error",
            )
        for target in conv.expand(edge["to"]):
            if target not in conv.tasks:
                conv.errors.append(
                    _problem(
                        ErrorCode.UNKNOWN_DEPENDENCY,
                        (*conv.base, *at, "to"),
                        f"edge target {edge['to']!r} is not a node",
                        "",
                    )
                )
                continue
            deps = conv.tasks[target]["dependencies"]
            for source in conv.expand(edge["from"]):
                if source not in deps:
                    deps.append(source)


def _is_default_condition(condition: Any, source: str) -> bool:
    if not isinstance(condition, str):
        return False
    if condition.strip() == "all_children_complete":
        return True
    match = _DEFAULT_CONDITION.match(condition)
    return match is not None and match.group(1) == source


def _apply_error_handlers(conv: _Converter, handlers: Any) -> None:
    if not isinstance(handlers, list):
        conv.error(("error_handlers",), "expected a list of error handlers")
        return
    for index, spec in enumerate(handlers):
        at = ("error_handlers", index)
        action = spec.get("action") if isinstance(spec, dict) else None
        if not isinstance(action, dict) or not isinstance(action.get("handler"), str):
            conv.error(at, "an error handler needs action.handler (a tool or node id)")
            continue
        if spec.get("trigger", "node_failure") != "node_failure":
            conv.error(
                (*at, "trigger"),
                f"unsupported trigger {spec.get('trigger')!r}",
                "only node_failure is supported",
            )
            continue
        pattern = spec.get("node_pattern", "*")
        handler = action["handler"]
        # First handler wins: a task that already has one (its own error_handling or an
        # earlier handler's) is not matched again, so no handler task is overwritten or
        # orphaned (an orphaned handler task would run as an ordinary task).
        matched = [
            t
            for t, task in conv.tasks.items()
            if fnmatch.fnmatchcase(t, str(pattern))
            and t != handler
            and t not in conv.handler_ids
            and not task.get("error_handling")
        ]
        if handler in conv.tasks:
            if len(matched) != 1:
                conv.errors.append(
                    _problem(
                        ErrorCode.INVALID_HANDLER,
                        (*conv.base, *at, "node_pattern"),
                        f"node {handler!r} can handle one task, but {pattern!r} matches {len(matched)}",
                        "a handler task handles at most one task; name a tool instead",
                    )
                )
                continue
            conv.tasks[matched[0]]["error_handling"] = {"on_error": handler}
            continue
        for task_id in matched:
            handler_id = f"{task_id}__on_error"[:64]
            conv.tasks[handler_id] = {
                "tool_name": handler,
                "description": f"error handler of {task_id}",
                "parameters": copy.deepcopy(action.get("parameters", conv.tasks[task_id]["parameters"])),
                "dependencies": list(conv.tasks[task_id]["dependencies"]),
            }
            conv.tasks[task_id]["error_handling"] = {"on_error": handler_id}
            conv.handler_ids.add(handler_id)
