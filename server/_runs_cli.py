"""``planexec runs list|show|diff``: stored runs of the configured tenant (DESIGN §9, §10).

- ``runs list [--status S] [--limit N]``: newest first; ``--json`` prints a list of
  ``{run_id, plan_id, status, started_at, finished_at, user}``.
- ``runs show RUN_ID``: ``--json`` prints the stored run record (as ``planexec run
  --json`` printed it); otherwise tasks, attempts and a timeline (:mod:`._run_view`).
- ``runs diff A B``: the differences :mod:`._run_diff` finds; ``--json`` prints
  ``{a, b, equal, differences: [{task_id, field, a, b}]}``. Exit 0 when equal, 1 when not.

Every command takes ``--store URL``. A run id this tenant has not stored is
``not_found`` (exit 1), whether or not another tenant has it.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from planexec.executor import RunStatus
from planexec.store import Store

from ._cli_common import JsonOption, StoreOption, print_json, stdout_console
from ._cli_store import settings_of, with_store
from ._run_diff import Difference, diff_runs
from ._run_view import STATUS_STYLE, parse_time, render_run

__all__ = ["register"]

RunIdArgument = Annotated[str, typer.Argument(metavar="RUN_ID", help="A run id (see `planexec runs list`).")]

runs_app = typer.Typer(
    name="runs",
    help="Stored runs: list them, show one, diff two.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _short_time(value: str | None) -> str:
    moment = parse_time(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _duration(started: str | None, finished: str | None) -> str:
    began, ended = parse_time(started), parse_time(finished)
    if began is None or ended is None:
        return "-"
    return f"{(ended - began).total_seconds():.3f} s"


@runs_app.command("list")
def list_runs(
    ctx: typer.Context,
    status: Annotated[
        RunStatus | None, typer.Option("--status", help="Only runs with this status.", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many runs, newest first.")] = 50,
    json_output: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """List stored runs, newest first."""
    settings = settings_of(ctx, store)

    async def body(opened: Store) -> list[dict[str, Any]]:
        summaries = await opened.list_runs(
            settings.tenant, status=status.value if status else None, limit=limit
        )
        return [
            {
                "run_id": s.run_id,
                "plan_id": s.plan_id,
                "status": s.status,
                "started_at": s.started_at,
                "finished_at": s.finished_at,
                "user": s.user,
            }
            for s in summaries
        ]

    runs = with_store(settings, body, json_output=json_output)
    if json_output:
        print_json(runs)
        return
    console = stdout_console()
    if not runs:
        which = f" with status {status}" if status else ""
        console.print(f"no runs in tenant {escape(settings.tenant)}{which}", soft_wrap=True)
        return
    table = Table(box=None, pad_edge=False)
    for column in ("run", "status", "started (UTC)", "duration", "user", "plan"):
        table.add_column(
            column,
            no_wrap=column in ("run", "plan", "started (UTC)"),
            min_width=36 if column == "run" else None,
        )
    for run in runs:
        table.add_row(
            run["run_id"],
            Text(run["status"], style=STATUS_STYLE.get(run["status"], "")),
            _short_time(run["started_at"]),
            _duration(run["started_at"], run["finished_at"]),
            escape(run["user"] or "-"),
            run["plan_id"],
        )
    console.print(table, soft_wrap=True)


@runs_app.command("show")
def show_run(
    ctx: typer.Context,
    run_id: RunIdArgument,
    json_output: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Show a stored run: its tasks, every attempt, and a timeline."""
    settings = settings_of(ctx, store)

    async def body(opened: Store) -> dict[str, Any]:
        return await opened.get_run(settings.tenant, run_id)

    record = with_store(settings, body, json_output=json_output)
    if json_output:
        print_json(record)
    else:
        render_run(stdout_console(), record)


@runs_app.command("diff")
def diff(
    ctx: typer.Context,
    run_a: Annotated[str, typer.Argument(metavar="A", help="A run id.")],
    run_b: Annotated[str, typer.Argument(metavar="B", help="Another run id.")],
    json_output: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Compare two stored runs task by task; exit 0 when they are equal, 1 when not."""
    settings = settings_of(ctx, store)

    async def body(opened: Store) -> tuple[dict[str, Any], dict[str, Any]]:
        return await opened.get_run(settings.tenant, run_a), await opened.get_run(settings.tenant, run_b)

    record_a, record_b = with_store(settings, body, json_output=json_output)
    differences = diff_runs(record_a, record_b)
    if json_output:
        print_json(
            {
                "a": run_a,
                "b": run_b,
                "equal": not differences,
                "differences": [d.as_json() for d in differences],
            }
        )
    else:
        _render_diff(stdout_console(), run_a, run_b, differences)
    raise typer.Exit(0 if not differences else 1)


def _render_diff(console: Console, run_a: str, run_b: str, differences: list[Difference]) -> None:
    if not differences:
        console.print(f"[green]=[/green] runs {escape(run_a)} and {escape(run_b)} are equal", soft_wrap=True)
        return
    count = len(differences)
    console.print(
        f"[yellow]≠[/yellow] {count} difference(s) between A {escape(run_a)} and B {escape(run_b)}",
        soft_wrap=True,
    )
    table = Table(box=None, pad_edge=False)
    for column in ("task", "field", "A", "B"):
        table.add_column(column, overflow="fold")
    for difference in differences:
        table.add_row(
            escape(difference.task_id or "(run)"),
            difference.field,
            escape(_value(difference.a)),
            escape(_value(difference.b)),
        )
    console.print(table)


def _value(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= 200 else text[:199] + "…"


def register(app: typer.Typer) -> None:
    """Add the ``runs`` command group to ``app``."""
    app.add_typer(runs_app)
