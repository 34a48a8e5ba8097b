"""``planexec run PLAN [--tools SRC]... [--inputs JSON] [--store URL] [--json]`` (DESIGN §10).

Loads and validates the plan (an invalid plan is reported, nothing runs and nothing is
stored: exit 1), then stores the plan (provenance ``{"source": "cli", "file": PLAN}``)
and runs it with the executor, which stores the run record and its events as the run
goes (:class:`planexec.executor.StoreSink`), in the configured tenant. On a terminal a
live table follows the tasks; ``--json`` prints only the run record. Ctrl-C cancels the
run cooperatively: running tasks are cancelled and compensations still run.

Exit 0 when the run succeeded, 1 otherwise, 2 on a usage error (an unknown tool source,
bad ``--inputs``, an unreadable plan file, a store URL planexec cannot use). A store
that is unavailable, before or during the run, ends the command with exit 1 and a clear
message (see :mod:`._cli_store`).
"""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime
from typing import Annotated, Any

import anyio
import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from planexec.executor import Event, EventType, Executor, RunRecord, RunSink, RunStatus, StoreSink
from planexec.registry import ToolView, UpstreamUnavailable
from planexec.schemas import PlanObject
from planexec.store import PlanEntry, Store

from ._cli_common import (
    JsonOption,
    StoreOption,
    ToolsOption,
    load_and_validate,
    print_json,
    render_validation,
    sources_or_exit,
)
from ._cli_store import CommandFailed, display_url, settings_of, store_for, with_store
from ._config import Settings
from ._sources import open_catalog

__all__ = ["register"]

_STYLE = {
    "pending": "dim",
    "running": "cyan",
    "retrying": "yellow",
    "succeeded": "green",
    "recovered": "green",
    "failed": "red",
    "skipped": "dim",
    "cancelled": "magenta",
    "compensating": "yellow",
    "compensated": "blue",
    "compensation_failed": "red",
}
_RUN_STYLE = {RunStatus.SUCCEEDED: "green", RunStatus.FAILED: "red", RunStatus.CANCELLED: "magenta"}


class _Progress:
    """What the live table shows: each task's state as the events tell it."""

    def __init__(self, plan: PlanObject) -> None:
        self._tools = {tid: task.tool_name for tid, task in plan.tasks.items()}
        self._state = dict.fromkeys(plan.tasks, "pending")
        self._attempts = dict.fromkeys(plan.tasks, 0)
        self._notes = dict.fromkeys(plan.tasks, "")

    def update(self, event: Event) -> None:
        tid = event.task_id
        if tid is None:
            return
        if event.attempt is not None:
            self._attempts[tid] = event.attempt
        error = event.detail.get("error")
        if event.type is EventType.ATTEMPT_FAILED:
            state = "retrying" if not event.detail.get("compensation") else "compensating"
            self._notes[tid] = (
                f"{error['code'] if error else ''}, retry in {event.detail['retry_in_s']:.2f} s"
            )
        elif event.type is EventType.COMPENSATION_STARTED:
            state = "compensating"
        else:
            state = event.type.value.removeprefix("task_")
            if event.type is EventType.TASK_RECOVERED:
                self._notes[tid] = f"by {event.detail['handled_by']}"
            elif error:
                self._notes[tid] = f"{error['code']}: {error['message']}"
            elif "handler" in event.detail:
                self._notes[tid] = f"handler {event.detail['handler']}"
            else:
                self._notes[tid] = ""
        self._state[tid] = state

    def __rich__(self) -> Table:
        table = Table(box=None, pad_edge=False)
        for column in ("task", "tool", "status", "attempts", ""):
            table.add_column(column)
        for tid, state in self._state.items():
            style = _STYLE.get(state, "")
            attempts = str(self._attempts[tid] or "")
            table.add_row(tid, self._tools[tid], Text(state, style=style), attempts, escape(self._notes[tid]))
        return table


def _summary(record: RunRecord) -> Text:
    style = _RUN_STYLE.get(record.status, "")
    text = Text.assemble(("run ", "bold"), (record.status.value, f"bold {style}"), f"  {record.run_id}")
    if record.error is not None:
        text.append(f"\n{record.error.code}: {record.error.message}", style="red")
    return text


async def _execute(
    plan: PlanObject,
    tools: ToolView,
    sink: RunSink,
    inputs: dict[str, Any],
    progress: _Progress,
    live: Live | None,
) -> RunRecord:
    async with Executor(tools, sink).start(plan, inputs) as handle, anyio.create_task_group() as watchers:

        async def cancel_on_interrupt() -> None:
            with anyio.open_signal_receiver(signal.SIGINT) as signals:
                async for _ in signals:
                    handle.cancel()

        if live is not None:  # interactive: Ctrl-C cancels cooperatively
            watchers.start_soon(cancel_on_interrupt)
        async for event in handle.events():
            progress.update(event)
            if live is not None:
                live.refresh()
        record = await handle.wait()
        watchers.cancel_scope.cancel()
    return record


async def _store_and_execute(
    store: Store,
    settings: Settings,
    source: str,
    plan: PlanObject,
    tools: ToolView,
    inputs: dict[str, Any],
    progress: _Progress,
    live: Live | None,
) -> RunRecord:
    entry = PlanEntry(
        plan_id=plan.plan_id,
        user=settings.user,
        created_at=datetime.now(UTC),
        plan=plan.to_json(),
        provenance={"source": "cli", "file": source},
    )
    await store.save_plan(settings.tenant, entry)
    sink = StoreSink(store, settings.tenant, settings.user)
    return await _execute(plan, tools, sink, inputs, progress, live)


def _parse_inputs(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        inputs = json.loads(text)
    except ValueError as error:
        raise typer.BadParameter(f"not JSON: {error}", param_hint="--inputs") from None
    if not isinstance(inputs, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--inputs")
    return inputs


def register(app: typer.Typer) -> None:
    """Add the ``run`` command to ``app``."""

    @app.command()
    def run(
        ctx: typer.Context,
        plan: Annotated[str, typer.Argument(help="Plan file (.json, .yaml, .yml) or - for stdin.")],
        tools: ToolsOption = None,
        inputs: Annotated[
            str | None, typer.Option("--inputs", metavar="JSON", help="Run inputs, a JSON object.")
        ] = None,
        json_output: JsonOption = False,
        store: StoreOption = None,
    ) -> None:
        """Validate a plan, store it, and run it; exit 0 when the run succeeded, 1 otherwise."""
        settings = settings_of(ctx, store)
        run_inputs = _parse_inputs(inputs)
        store_for(settings)  # a store URL planexec cannot use is a usage error, before anything runs
        _, result = load_and_validate(plan, tools, json_output=json_output)
        if not result.valid or result.plan is None:
            if json_output:
                print_json(result.as_json())
            else:
                render_validation(Console(stderr=True), plan, result)
            raise typer.Exit(1)

        valid_plan = result.plan
        progress = _Progress(valid_plan)
        console = Console()

        async def open_tools_and_execute(opened: Store, live: Live | None) -> RunRecord:
            # Validation closed its sources: upstream connections belong to this event loop.
            try:
                async with open_catalog(sources_or_exit(tools)) as catalog:
                    return await _store_and_execute(
                        opened, settings, plan, valid_plan, catalog, run_inputs, progress, live
                    )
            except UpstreamUnavailable as error:
                raise CommandFailed("upstream_unavailable", error.message) from None

        def execute(live: Live | None) -> RunRecord:
            return with_store(
                settings, lambda opened: open_tools_and_execute(opened, live), json_output=json_output
            )

        if console.is_terminal and not json_output:
            with Live(progress, console=console, auto_refresh=False) as live:
                record = execute(live)
        else:
            record = execute(None)
        if json_output:
            print_json(record.model_dump(mode="json"))
        else:
            if not console.is_terminal:
                console.print(progress)
            console.print(_summary(record))
            if record.status is RunStatus.SUCCEEDED:
                console.print(Text(json.dumps(record.output, indent=2, ensure_ascii=False, default=str)))
            console.print(
                Text.assemble(
                    ("stored in ", "dim"),
                    (f"{display_url(settings.store)} (tenant {settings.tenant})", "dim"),
                    ("; see ", "dim"),
                    (f"planexec runs show {record.run_id}", "bold"),
                ),
                soft_wrap=True,
            )
        raise typer.Exit(0 if record.status is RunStatus.SUCCEEDED else 1)
