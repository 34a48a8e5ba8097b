"""The ``planexec`` command line (DESIGN §10).

Exit codes: 0 success / valid, 1 invalid plan or failed run, 2 usage error. With
``--json`` a command prints exactly one JSON document on stdout and nothing else there;
without it, a readable report. Usage errors go to stderr with nothing on stdout.

Commands live in their own modules (``_run_cli``, ``_runs_cli``, ``_replay_cli``,
``_graph_cli``, ``_serve_cli``, ``_keys_cli``), each adding itself with ``register(app)``. Configuration
(:class:`._config.Settings`) is read from the environment once, at this edge.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from planexec import __version__
from planexec.planner import Limits

from . import _bench_cli, _graph_cli, _keys_cli, _replay_cli, _run_cli, _runs_cli, _serve_cli
from ._cli_common import (
    DEFAULT_LIMITS,
    JsonOption,
    ToolsOption,
    load_and_validate,
    print_json,
    render_validation,
)
from ._config import Settings

__all__ = ["app", "main"]

app = typer.Typer(
    name="planexec",
    help="Plan-then-execute orchestration for LLM agents, served over MCP.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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


@app.command()
def validate(
    plan: Annotated[str, typer.Argument(help="Plan file (.json, .yaml, .yml) or - for stdin.")],
    tools: ToolsOption = None,
    json_output: JsonOption = False,
    max_tasks: Annotated[
        int, typer.Option(min=1, help="Largest plan accepted, in tasks.")
    ] = DEFAULT_LIMITS.max_tasks,
    max_bytes: Annotated[
        int, typer.Option(min=1, help="Largest plan accepted, in bytes.")
    ] = DEFAULT_LIMITS.max_bytes,
    max_depth: Annotated[
        int, typer.Option(min=1, help="Deepest nesting accepted.")
    ] = DEFAULT_LIMITS.max_depth,
) -> None:
    """Check a plan: schema, DAG, references, tools and arguments; report every problem."""
    limits = Limits(max_tasks=max_tasks, max_bytes=max_bytes, max_depth=max_depth)
    _, result = load_and_validate(plan, tools, limits, json_output=json_output)
    if json_output:
        print_json(result.as_json())
    else:
        render_validation(Console(), plan, result)
    raise typer.Exit(0 if result.valid else 1)


_run_cli.register(app)
_runs_cli.register(app)
_replay_cli.register(app)
_graph_cli.register(app)
_serve_cli.register(app)
_keys_cli.register(app)
_bench_cli.register(app)


def main(settings: Settings | None = None) -> None:
    """Run the CLI. ``settings`` stands in for the environment (``PLANEXEC_*``), which is
    otherwise read once, by the first command that needs it."""
    app(obj=settings)
