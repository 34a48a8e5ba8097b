"""``--tools SRC`` values turned into tool sources (DESIGN §10).

``demo`` is the deterministic demo toolset; ``python:MODULE`` imports MODULE and takes
its ``TOOLS`` list (functions) as a source named after the module. Upstream MCP sources
(``stdio:...``, ``http(s)://...``) come with the registry issue and are refused here with
a clear message until then.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from planexec.registry import Catalog, DuplicateToolError, PythonToolSource, ToolSource, demo_source

__all__ = ["ToolSourceError", "catalog_from_sources", "source_from_spec"]


class ToolSourceError(ValueError):
    """A ``--tools`` value that cannot be turned into a tool source (a usage error)."""


def source_from_spec(spec: str) -> ToolSource:
    if spec == "demo":
        return demo_source()
    if spec.startswith("python:"):
        module_name = spec.removeprefix("python:")
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise ToolSourceError(f"--tools {spec}: cannot import {module_name!r}: {error}") from None
        functions = getattr(module, "TOOLS", None)
        if not isinstance(functions, list | tuple) or not all(callable(f) for f in functions):
            raise ToolSourceError(f"--tools {spec}: module {module_name!r} needs a TOOLS list of functions")
        return PythonToolSource(module_name, functions)
    if spec.startswith(("stdio:", "http://", "https://")):
        raise ToolSourceError(f"--tools {spec}: upstream MCP sources are not supported yet")
    raise ToolSourceError(f"--tools {spec}: expected demo, python:MODULE, stdio:COMMAND or an http(s):// URL")


def catalog_from_sources(specs: Iterable[str]) -> Catalog:
    catalog = Catalog()
    for spec in specs:
        try:
            catalog.add_source(source_from_spec(spec))
        except DuplicateToolError as error:
            raise ToolSourceError(f"--tools {spec}: {error}") from None
    return catalog
