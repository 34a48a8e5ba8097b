"""The executor's public surface is exactly this (httpx-style pin)."""

from __future__ import annotations

import ast
from pathlib import Path

import planexec.executor


def test_exported_members() -> None:
    assert sorted(planexec.executor.__all__) == [
        "AttemptRecord",
        "Clock",
        "CompensationRecord",
        "CompensationStatus",
        "ErrorInfo",
        "Event",
        "EventType",
        "Executor",
        "Limits",
        "ReplayError",
        "ReplayResult",
        "RunErrorCode",
        "RunHandle",
        "RunRecord",
        "RunSink",
        "RunStatus",
        "Sleep",
        "StoreSink",
        "SystemClock",
        "TaskRecord",
        "TaskStatus",
        "render_mermaid",
        "replay_run",
    ]
    assert all(hasattr(planexec.executor, name) for name in planexec.executor.__all__)


def test_executor_imports_only_schemas_and_registry_of_planexec() -> None:
    allowed = ("planexec.schemas", "planexec.registry", "planexec.store")
    for path in Path(planexec.executor.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("planexec"):
                assert node.module.startswith(allowed), f"{path.name} imports {node.module}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("planexec") or alias.name.startswith(allowed)
