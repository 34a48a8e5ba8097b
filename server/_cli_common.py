"""What the CLI commands share: options, JSON output, usage errors, plan loading."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, NoReturn

import anyio
import typer
from rich.console import Console
from rich.markup import escape

from planexec.planner import Limits, PlanSourceError, ValidationResult, load_plan, validate_plan
from planexec.registry import Catalog, ToolSource, UpstreamUnavailable
from planexec.schemas import Problem

from ._sources import ToolSourceError, open_catalog, tool_sources

__all__ = [
    "DEFAULT_LIMITS",
    "JsonOption",
    "StoreOption",
    "ToolsOption",
    "fail",
    "load_and_validate",
    "print_json",
    "render_validation",
    "sources_or_exit",
    "stdout_console",
    "usage_error",
]

ToolsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--tools",
        metavar="SRC",
        help=(
            "Tool source: demo, python:MODULE, [ALIAS=]stdio:COMMAND ARGS or an [ALIAS=]http(s):// "
            "MCP URL (repeatable; upstream tools are named ALIAS__tool). Default: demo."
        ),
    ),
]
DEFAULT_LIMITS = Limits()
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout, nothing else.")]
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        metavar="URL",
        help=(
            "Store URL: sqlite:///path.db, redis://host:port/db or redis+cluster://host:port."
            " Overrides PLANEXEC_STORE."
        ),
        show_default=False,
    ),
]


def stdout_console() -> Console:
    """A console for stdout reports. Piped output is not cut to the default 80 columns:
    tables keep whole run ids, and lines wrap at 200."""
    console = Console()
    return console if console.is_terminal else Console(width=200)


def usage_error(message: str) -> NoReturn:
    Console(stderr=True).print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(2)


def fail(code: str, message: str, *, json_output: bool) -> NoReturn:
    """End a command that could not do its job (exit 1): the message on stderr and, with
    ``--json``, the document ``{"error": {"code", "message"}}`` on stdout."""
    Console(stderr=True).print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    if json_output:
        print_json({"error": {"code": code, "message": message}})
    raise typer.Exit(1)


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")


def sources_or_exit(tools: list[str] | None) -> list[ToolSource]:
    """The (unopened) sources named by ``--tools`` (default ``demo``); a bad value exits 2."""
    try:
        return tool_sources(tools or ["demo"])
    except ToolSourceError as error:
        usage_error(str(error))


def load_and_validate(
    plan: str, tools: list[str] | None, limits: Limits | None = None, *, json_output: bool = False
) -> tuple[Catalog, ValidationResult]:
    """The shared front half of ``validate`` and ``run``: the tools named by ``--tools``
    and the verdict on the plan. Usage errors exit 2; an upstream MCP source that cannot
    be reached exits 1 (``upstream_unavailable``).

    Upstream sources are opened to read their tools and closed again before this
    returns: the catalog still lists every tool, but calling an upstream one fails. A
    command that calls tools opens its own catalog (:func:`._sources.open_catalog`).
    """
    sources = sources_or_exit(tools)
    try:
        document, problems = load_plan(plan, limits)
    except PlanSourceError as error:
        usage_error(str(error))

    async def verdict() -> tuple[Catalog, ValidationResult]:
        async with open_catalog(sources) as catalog:
            if problems:
                return catalog, ValidationResult(False, None, problems, [])
            return catalog, validate_plan(document, catalog, limits)

    try:
        return anyio.run(verdict)
    except ToolSourceError as error:
        usage_error(str(error))
    except UpstreamUnavailable as error:
        fail("upstream_unavailable", error.message, json_output=json_output)


def _where(path: str) -> str:
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in path.split("/")[1:]]
    return " › ".join(tokens) if tokens else "(whole plan)"


def render_problems(console: Console, problems: list[Problem], kind: str) -> None:
    colour = "red" if kind == "error" else "yellow"
    for problem in problems:
        where = escape(_where(problem.path))
        console.print(f"  [{colour}]{kind}[/{colour}] [bold]{problem.code}[/bold]  [cyan]{where}[/cyan]")
        console.print(f"        {escape(problem.message)}")
        if problem.hint:
            console.print(f"        [dim]hint: {escape(problem.hint)}[/dim]")


def render_validation(console: Console, source: str, result: ValidationResult) -> None:
    if result.valid and result.plan is not None:
        plan = result.plan
        console.print(
            f"[green]✓[/green] {escape(source)} is a valid plan: {len(plan.tasks)} tasks, "
            f"plan_id {plan.plan_id}"
        )
    else:
        console.print(
            f"[red]✗[/red] {escape(source)} is invalid: {len(result.errors)} error(s), "
            f"{len(result.warnings)} warning(s)"
        )
    render_problems(console, result.errors, "error")
    render_problems(console, result.warnings, "warning")
