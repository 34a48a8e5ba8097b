"""The ``planexec`` command line (DESIGN §10).

Exit codes: 0 success / valid, 1 invalid plan or failed run, 2 usage error. With
``--json`` a command prints exactly one JSON document on stdout and nothing else there;
human-readable output and usage errors go to stderr.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from planexec import __version__
from planexec.planner import Limits, PlanSourceError, ValidationResult, load_plan, validate_plan
from planexec.schemas import Problem

from ._sources import ToolSourceError, catalog_from_sources

__all__ = ["app", "main"]

app = typer.Typer(
    name="planexec",
    help="Plan-then-execute orchestration for LLM agents, served over MCP.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ToolsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--tools",
        metavar="SRC",
        help="Tool source: demo, python:MODULE (repeatable). Default: demo.",
    ),
]
_DEFAULTS = Limits()
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout, nothing else.")]


def usage_error(message: str) -> NoReturn:
    Console(stderr=True).print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(2)


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")


def _version(value: bool) -> None:
    if value:
        print(f"planexec {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Plan-then-execute orchestration for LLM agents, served over MCP."""


def load_and_validate(plan: str, tools: list[str] | None, limits: Limits | None = None) -> ValidationResult:
    """The shared front half of ``validate`` and ``run``: usage errors exit 2."""
    try:
        catalog = catalog_from_sources(tools or ["demo"])
    except ToolSourceError as error:
        usage_error(str(error))
    try:
        document, problems = load_plan(plan, limits)
    except PlanSourceError as error:
        usage_error(str(error))
    if problems:
        return ValidationResult(False, None, problems, [])
    return validate_plan(document, catalog, limits)


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


@app.command()
def validate(
    plan: Annotated[str, typer.Argument(help="Plan file (.json, .yaml, .yml) or - for stdin.")],
    tools: ToolsOption = None,
    json_output: JsonOption = False,
    max_tasks: Annotated[
        int, typer.Option(min=1, help="Largest plan accepted, in tasks.")
    ] = _DEFAULTS.max_tasks,
    max_bytes: Annotated[
        int, typer.Option(min=1, help="Largest plan accepted, in bytes.")
    ] = _DEFAULTS.max_bytes,
    max_depth: Annotated[int, typer.Option(min=1, help="Deepest nesting accepted.")] = _DEFAULTS.max_depth,
) -> None:
    """Check a plan: schema, DAG, references, tools and arguments; report every problem."""
    limits = Limits(max_tasks=max_tasks, max_bytes=max_bytes, max_depth=max_depth)
    result = load_and_validate(plan, tools, limits)
    if json_output:
        print_json(result.as_json())
    else:
        render_validation(Console(), plan, result)
    raise typer.Exit(0 if result.valid else 1)


def _register_optional_commands() -> None:
    from . import _run_cli

    _run_cli.register(app)


try:
    _register_optional_commands()
except ImportError:  # the run command arrives with the executor
    pass


def main() -> None:
    app()
