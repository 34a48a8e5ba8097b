"""``planexec graph PLAN|RUN_ID [--tools SRC]... [--store URL]``: Mermaid ``flowchart`` text.

An argument that names an existing file, ``-`` (stdin), or looks like a path (it holds
a ``/`` or ends in ``.json``, ``.yaml``, ``.yml``; run ids never do) is a plan: it is
loaded and validated against ``--tools`` (default ``demo``) and drawn without statuses;
an invalid plan prints its errors on stderr, exit 1; a plan file that cannot be read is
a usage error, exit 2. Any other argument is a run id of the
configured tenant: the run and its plan come from the store and each task is drawn with
its status as a class (:func:`planexec.executor.render_mermaid`). A run id the tenant
has not stored is ``not_found``, exit 1. Only the Mermaid text goes to stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import pydantic
import typer
from rich.console import Console

from planexec.executor import render_mermaid
from planexec.schemas import PlanObject
from planexec.store import NotFound, PlanEntry, Store

from ._cli_common import StoreOption, ToolsOption, fail, load_and_validate, render_validation
from ._cli_store import CommandFailed, settings_of, with_store

__all__ = ["register"]


def _is_plan_source(target: str) -> bool:
    return (
        target == "-"
        or Path(target).is_file()
        or "/" in target
        or target.lower().endswith((".json", ".yaml", ".yml"))
    )


def _plan_graph(source: str, tools: list[str] | None) -> str:
    _, result = load_and_validate(source, tools)
    if not result.valid or result.plan is None:
        render_validation(Console(stderr=True), source, result)
        raise typer.Exit(1)
    return render_mermaid(result.plan)


def register(app: typer.Typer) -> None:
    """Add the ``graph`` command to ``app``."""

    @app.command()
    def graph(
        ctx: typer.Context,
        target: Annotated[
            str,
            typer.Argument(metavar="PLAN|RUN_ID", help="A plan file (or - for stdin), or a stored run's id."),
        ],
        tools: ToolsOption = None,
        store: StoreOption = None,
    ) -> None:
        """Draw a plan, or a stored run with its statuses, as a Mermaid flowchart."""
        if _is_plan_source(target):
            sys.stdout.write(_plan_graph(target, tools))
            return
        settings = settings_of(ctx, store)

        async def body(opened: Store) -> tuple[dict[str, Any], PlanEntry]:
            try:
                record = await opened.get_run(settings.tenant, target)
            except NotFound:
                raise CommandFailed(
                    "not_found",
                    f"{target!r} is neither a plan file nor a run id in tenant {settings.tenant!r}",
                ) from None
            try:
                entry = await opened.get_plan(settings.tenant, str(record.get("plan_id")))
            except NotFound:
                raise CommandFailed(
                    "not_found", f"run {target!r}: its plan {record.get('plan_id')!r} is not stored"
                ) from None
            return record, entry

        record, entry = with_store(settings, body, json_output=False)
        try:
            plan = PlanObject.model_validate_json(json.dumps(entry.plan))
        except pydantic.ValidationError as error:
            message = f"the stored plan {entry.plan_id} is not a valid plan: {error.error_count()} problem(s)"
            fail("invalid_stored_plan", message, json_output=False)
        sys.stdout.write(render_mermaid(plan, record))
