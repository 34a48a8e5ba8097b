"""Pins the public surface of planexec.benchmarks.agentic, and that it imports only
public names of the engine packages (never ``server``)."""

from __future__ import annotations

import ast
from pathlib import Path

import planexec.benchmarks.agentic as agentic

API = {
    "MODES",
    "SUITES",
    "BenchOptions",
    "LatencyModel",
    "Meter",
    "Problem",
    "SimulatedLLM",
    "Suite",
    "TokenCounter",
    "load_suite",
    "run",
    "summary",
}


def test_exported_members() -> None:
    assert set(agentic.__all__) == API
    for name in API:
        assert getattr(agentic, name) is not None


def test_the_benchmarks_use_the_engine_only_through_its_public_api() -> None:
    for path in Path(agentic.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("planexec"):
                parts = node.module.split(".")
                assert parts[1] != "server", (path.name, node.module)
                assert not any(p.startswith("_") for p in parts), (path.name, node.module)
