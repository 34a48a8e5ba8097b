"""``planexec replay RUN_ID [--live --from TASK] [--tools SRC]... [--store URL] [--json]``.

Replays a stored run of the configured tenant (DESIGN §5):

- recorded (the default): the stored plan re-executes against the stored tool results;
  no tool is called and nothing is stored;
- ``--live --from TASK``: recorded outputs upstream of TASK, live tool calls (from
  ``--tools``, default ``demo``) from TASK on; the replay is stored as a run of its own
  (its record notes ``replay_of``). ``--live`` without ``--from`` (or the
  reverse), or a TASK the run does not have, is a usage error (exit 2).

``--json`` prints ``{status, output, identical, divergence, run_id, replay_of}``
(:meth:`planexec.executor.ReplayResult.as_json`); otherwise a report naming the first
divergence (task, field, recorded and replayed values). Exit 0 when the replay came out
identical, 1 otherwise; a run that cannot be replayed is ``not_replayable`` and an unknown
run id ``not_found``, both exit 1.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from planexec.executor import ReplayError, ReplayResult, replay_run
from planexec.registry import ToolSource, UpstreamUnavailable
from planexec.store import Store

from ._cli_common import (
    JsonOption,
    StoreOption,
    ToolsOption,
    print_json,
    sources_or_exit,
    stdout_console,
    usage_error,
)
from ._cli_store import CommandFailed, settings_of, with_store
from ._sources import ToolSourceError, open_catalog

__all__ = ["register"]


def _value(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= 500 else text[:499] + "…"


def render_replay(console: Console, result: Mapping[str, Any], live_from: str | None) -> None:
    """The human report of a replay's JSON form."""
    mode = "recorded" if live_from is None else f"live from {live_from}"
    head = f"replay of {escape(str(result['replay_of']))} ({escape(mode)})"
    divergence = result.get("divergence")
    if result.get("identical"):
        console.print(f"[green]=[/green] {head}: identical", soft_wrap=True)
    elif isinstance(divergence, Mapping):
        task, attempt = divergence.get("task_id"), divergence.get("attempt")
        where = f"task {escape(str(task))}" if task is not None else "the run"
        if attempt is not None:
            where += f" (attempt {escape(str(attempt))})"
        console.print(
            f"[red]≠[/red] {head} diverged at {where}, field {escape(str(divergence.get('field')))}",
            soft_wrap=True,
        )
        console.print(f"    recorded: {escape(_value(divergence.get('recorded')))}", soft_wrap=True)
        console.print(f"    replayed: {escape(_value(divergence.get('replayed')))}", soft_wrap=True)
    else:
        console.print(f"[red]≠[/red] {head}: not identical", soft_wrap=True)
    status = escape(str(result["status"]))
    if live_from is None:
        console.print(f"replayed run status: {status} (a recorded replay is not stored)", soft_wrap=True)
    else:
        console.print(f"replay stored as run {escape(str(result['run_id']))}: {status}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``replay`` command to ``app``."""

    @app.command()
    def replay(
        ctx: typer.Context,
        run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="A stored run's id.")],
        live: Annotated[
            bool, typer.Option("--live", help="Call tools live from --from TASK on (recorded upstream).")
        ] = False,
        from_task: Annotated[
            str | None,
            typer.Option("--from", metavar="TASK", help="With --live: the first task called live."),
        ] = None,
        tools: ToolsOption = None,
        json_output: JsonOption = False,
        store: StoreOption = None,
    ) -> None:
        """Replay a stored run (recorded: no tool is called); exit 0 when identical, 1 otherwise."""
        if live and from_task is None:
            usage_error("--live needs --from TASK: the first task to call live")
        if from_task is not None and not live:
            usage_error("--from TASK goes with --live (a recorded replay replays every task)")
        settings = settings_of(ctx, store)
        sources: list[ToolSource] | None = sources_or_exit(tools) if live or tools else None

        async def body(opened: Store) -> ReplayResult:
            if from_task is not None:
                record = await opened.get_run(settings.tenant, run_id)
                if from_task not in (record.get("tasks") or {}):
                    usage_error(f"--from {from_task}: run {run_id} has no task {from_task!r}")
            async with AsyncExitStack() as stack:
                catalog = None
                if sources is not None:
                    try:
                        catalog = await stack.enter_async_context(open_catalog(sources))
                    except ToolSourceError as error:
                        usage_error(str(error))
                    except UpstreamUnavailable as error:
                        raise CommandFailed("upstream_unavailable", error.message) from None
                try:
                    return await replay_run(
                        opened,
                        settings.tenant,
                        run_id,
                        tools=catalog,
                        live=live,
                        from_task=from_task,
                        user=settings.user,
                    )
                except ReplayError as error:
                    message = f"run {run_id} cannot be replayed: {error}"
                    raise CommandFailed("not_replayable", message) from None

        result = with_store(settings, body, json_output=json_output).as_json()
        if json_output:
            print_json(result)
        else:
            render_replay(stdout_console(), result, from_task if live else None)
        raise typer.Exit(0 if result["identical"] else 1)
