"""Pins the public surface of planexec.schemas, planexec.registry and planexec.planner
(after httpx's test_exported_members), and the import rules of DESIGN §1 for them."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from types import ModuleType

import pytest

import planexec

SCHEMAS_API = {
    "RESERVED_TASK_IDS",
    "TASK_ID_PATTERN",
    "TOOL_NAME_PATTERN",
    "Compensation",
    "ErrorCode",
    "ErrorHandling",
    "OnFailure",
    "PlanObject",
    "Problem",
    "Ref",
    "RefKind",
    "ReferenceSyntaxError",
    "RetryPolicy",
    "Task",
    "Template",
    "WarningCode",
    "convert_node_form",
    "format_ref",
    "format_template",
    "is_node_form",
    "iter_refs",
    "json_pointer",
    "normalize_references",
    "parse_template",
    "plan_json_schema",
}

REGISTRY_API = {
    "CacheBackend",
    "CacheOutcome",
    "Caller",
    "Catalog",
    "Denial",
    "DenialReason",
    "DuplicateToolError",
    "HostAllowList",
    "HostNotAllowed",
    "HttpEndpoint",
    "HttpToolSource",
    "LayeredView",
    "McpToolSource",
    "MemoryCache",
    "Policy",
    "PolicyError",
    "ResultCache",
    "PythonToolSource",
    "RetryableToolError",
    "ToolAnnotations",
    "ToolCallError",
    "ToolContext",
    "ToolError",
    "ToolErrorCode",
    "ToolResult",
    "ToolSource",
    "ToolSpec",
    "ToolView",
    "TrustTier",
    "UpstreamUnavailable",
    "demo_source",
    "ledger_snapshot",
    "reset_demo_state",
    "tool",
    "tool_fingerprint",
    "tool_fingerprints",
}

PLANNER_API = {
    "LLM",
    "PROMPT_VERSION",
    "Completion",
    "JSONExtractionError",
    "LLMError",
    "Limits",
    "LiteLLMClient",
    "Message",
    "PlanOutcome",
    "PlanSourceError",
    "Planner",
    "PlanningFailed",
    "PlanningRound",
    "ValidationResult",
    "extract_json",
    "load_plan",
    "parse_plan_text",
    "validate_plan",
}

PACKAGES = [
    ("planexec.schemas", SCHEMAS_API),
    ("planexec.registry", REGISTRY_API),
    ("planexec.planner", PLANNER_API),
]


@pytest.mark.parametrize(("name", "expected"), PACKAGES)
def test_all_is_pinned(name: str, expected: set[str]) -> None:
    module = importlib.import_module(name)
    assert len(module.__all__) == len(set(module.__all__))
    assert set(module.__all__) == expected


@pytest.mark.parametrize(("name", "expected"), PACKAGES)
def test_every_name_in_all_exists(name: str, expected: set[str]) -> None:
    module = importlib.import_module(name)
    for member in module.__all__:
        assert hasattr(module, member), member


@pytest.mark.parametrize(("name", "expected"), PACKAGES)
def test_every_public_name_is_listed_in_all(name: str, expected: set[str]) -> None:
    module = importlib.import_module(name)
    public = {
        member
        for member, value in vars(module).items()
        if not member.startswith("_") and not isinstance(value, ModuleType)
    }
    assert public == set(module.__all__)


@pytest.mark.parametrize(("name", "expected"), PACKAGES)
def test_public_names_are_defined_in_the_package(name: str, expected: set[str]) -> None:
    module = importlib.import_module(name)
    for member in module.__all__:
        origin = getattr(getattr(module, member), "__module__", None)
        if origin is not None and isinstance(getattr(module, member), type):
            assert origin.startswith(name + "."), (member, origin)


def _planexec_imports(path: Path, package: str) -> set[str]:
    """The planexec packages a module imports (relative imports resolved)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                found.add(package)
            elif node.level >= 2:
                found.add((node.module or "").split(".")[0] or "<root>")
            elif node.module and node.module.startswith("planexec."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("planexec.")}
    return found


@pytest.mark.parametrize(
    ("package", "allowed"),
    [
        ("schemas", {"schemas"}),
        ("registry", {"registry", "schemas"}),
        ("planner", {"planner", "schemas", "registry", "store"}),
    ],
)
def test_import_rules(package: str, allowed: set[str]) -> None:
    root = Path(planexec.__file__).parent / package
    modules = sorted(root.glob("*.py"))
    assert modules
    for path in modules:
        assert _planexec_imports(path, package) <= allowed, path.name
