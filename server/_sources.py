"""``--tools SRC`` values turned into tool sources (DESIGN §10), and the catalog they open into.

- ``demo``: the deterministic demo toolset;
- ``python:MODULE``: MODULE's ``TOOLS`` list (functions), a source named after the module;
- ``[ALIAS=]stdio:COMMAND ARGS...``: an upstream MCP server started as a subprocess (the
  rest of the value is split like a shell would, ``shlex``);
- ``[ALIAS=]http://URL`` / ``https://URL``: an upstream MCP server over streamable HTTP.

Upstream tools are named ``ALIAS__tool``. Without ``ALIAS=`` the alias comes from the
command's file name or the URL's host, lowercased, anything but letters, digits and ``-``
turned into ``-`` (``127.0.0.1`` → ``127-0-0-1``), at most 24 characters. Configured
upstreams are ``verified`` (the operator chose them; their code runs elsewhere). Only
server configuration starts stdio upstreams: remote clients never spawn processes.

:func:`tool_sources` parses (no I/O: a bad value is a :class:`ToolSourceError`, a usage
error); ``async with open_catalog(specs) as catalog`` enters every source that needs
opening (upstream connections, HTTP clients) in order, builds the :class:`Catalog`, and
closes them all on exit. An upstream that cannot be reached raises
:class:`planexec.registry.UpstreamUnavailable` from the ``async with``.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from functools import partial
from urllib.parse import urlsplit

from mcp import StdioServerParameters

from planexec.registry import (
    Catalog,
    DuplicateToolError,
    McpToolSource,
    PythonToolSource,
    ToolSource,
    TrustTier,
    demo_source,
)

__all__ = ["ToolSourceError", "catalog_from_sources", "open_catalog", "source_from_spec", "tool_sources"]

_ALIASED = re.compile(r"^([a-zA-Z0-9-]{1,24})=(?=stdio:|https?://)(.*)$", re.DOTALL)
_UPSTREAM = ("stdio:", "http://", "https://")


class ToolSourceError(ValueError):
    """A ``--tools`` value that cannot be turned into a tool source (a usage error)."""


def default_alias(text: str) -> str:
    """An alias made from a command's file name or a host name (see the module docstring)."""
    alias = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:24].strip("-")
    return alias or "upstream"


def _upstream(spec: str) -> McpToolSource:
    aliased = _ALIASED.match(spec)
    alias, target = (aliased[1], aliased[2]) if aliased else (None, spec)
    if target.startswith("stdio:"):
        try:
            words = shlex.split(target.removeprefix("stdio:"))
        except ValueError as error:
            raise ToolSourceError(f"--tools {spec}: cannot split the command: {error}") from None
        if not words:
            raise ToolSourceError(f"--tools {spec}: stdio: needs a command, e.g. stdio:my-server --flag")
        endpoint: str | StdioServerParameters = StdioServerParameters(command=words[0], args=words[1:])
        alias = alias or default_alias(os.path.basename(words[0]))
    else:
        try:
            host = urlsplit(target).hostname
        except ValueError as error:
            raise ToolSourceError(f"--tools {spec}: not a valid URL: {error}") from None
        if not host:
            raise ToolSourceError(f"--tools {spec}: the URL has no host")
        endpoint = target
        alias = alias or default_alias(host)
    try:
        return McpToolSource(alias, endpoint, trust=TrustTier.VERIFIED)
    except ValueError as error:
        raise ToolSourceError(f"--tools {spec}: {error}") from None


def source_from_spec(spec: str) -> ToolSource:
    """The (unopened) source one ``--tools`` value names."""
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
    if spec.startswith(_UPSTREAM) or _ALIASED.match(spec):
        return _upstream(spec)
    raise ToolSourceError(
        f"--tools {spec}: expected demo, python:MODULE, [ALIAS=]stdio:COMMAND or an [ALIAS=]http(s):// URL"
    )


def tool_sources(specs: Iterable[str]) -> list[ToolSource]:
    """The sources of several ``--tools`` values, unopened; two with one name are refused."""
    sources: list[ToolSource] = []
    for spec in specs:
        source = source_from_spec(spec)
        if any(s.name == source.name for s in sources):
            raise ToolSourceError(f"--tools {spec}: a source named {source.name!r} is already given")
        sources.append(source)
    return sources


@asynccontextmanager
async def open_catalog(specs: Iterable[str | ToolSource]) -> AsyncIterator[Catalog]:
    """A catalog of the given sources (``--tools`` values or sources), each opened first.

    Sources are entered in order and closed in reverse on exit. A tool name offered twice
    is a :class:`ToolSourceError`; an unreachable upstream raises
    :class:`~planexec.registry.UpstreamUnavailable`; either way the sources opened so far
    are closed.
    """
    sources = [source_from_spec(s) if isinstance(s, str) else s for s in specs]
    async with AsyncExitStack() as stack:
        catalog = Catalog()
        for source in sources:
            if isinstance(source, McpToolSource):  # its tool changes reach the catalog
                source.watch(partial(_changed, catalog))
            if isinstance(source, AbstractAsyncContextManager):  # upstreams, HTTP clients
                await stack.enter_async_context(source)
            try:
                catalog.add_source(source)
            except DuplicateToolError as error:
                raise ToolSourceError(f"--tools: source {source.name!r}: {error}") from None
        yield catalog


async def _changed(catalog: Catalog, source: McpToolSource) -> None:
    await catalog.source_changed(source.name)


def catalog_from_sources(specs: Iterable[str]) -> Catalog:
    """A catalog of sources that need no opening (``demo``, ``python:``); upstream MCP
    sources must be opened: use :func:`open_catalog` for them."""
    catalog = Catalog()
    for spec in specs:
        source = source_from_spec(spec)
        if isinstance(source, McpToolSource):
            raise ToolSourceError(f"--tools {spec}: an upstream source needs opening (open_catalog)")
        try:
            catalog.add_source(source)
        except DuplicateToolError as error:
            raise ToolSourceError(f"--tools {spec}: {error}") from None
    return catalog
