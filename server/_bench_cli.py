"""``planexec bench SUITE [--mode reactive|planned|both] [--llm simulated|MODEL]
[--api-base URL] [--limit N] [--json] [--output DIR]``: reactive vs planned execution.

The benchmark itself lives in ``planexec.benchmarks.agentic`` (also runnable as
``python -m benchmarks.agentic``); this module only parses the options. It needs the
``bench`` extra (trio for the virtual clock, matplotlib for the plots): when either is
missing the command says ``pip install 'planexec[bench]'`` and exits 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from planexec.benchmarks.agentic._command import HELP, MissingExtra, execute, options_from

__all__ = ["register"]

_SUITES = ("parallelqa", "game24", "synthetic")
_MODES = ("reactive", "reactive_parallel", "planned", "both")


def _usage(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(2)


def register(app: typer.Typer) -> None:
    """Add the ``bench`` command to ``app``."""

    @app.command()
    def bench(
        suite: Annotated[str, typer.Argument(help=HELP["suite"], metavar="SUITE")],
        mode: Annotated[str, typer.Option(help=HELP["mode"])] = "both",
        llm: Annotated[str, typer.Option(help=HELP["llm"])] = "simulated",
        api_base: Annotated[str | None, typer.Option(metavar="URL", help=HELP["api_base"])] = None,
        limit: Annotated[int | None, typer.Option(min=1, metavar="N", help=HELP["limit"])] = None,
        json_output: Annotated[bool, typer.Option("--json", help=HELP["json"])] = False,
        output: Annotated[Path | None, typer.Option(metavar="DIR", help=HELP["output"])] = None,
        ttft_s: Annotated[float | None, typer.Option(min=0.0, help=HELP["ttft_s"])] = None,
        output_tokens_per_s: Annotated[
            float | None, typer.Option(min=0.001, help=HELP["output_tokens_per_s"])
        ] = None,
        token_model: Annotated[str | None, typer.Option(help=HELP["token_model"])] = None,
        examples: Annotated[int | None, typer.Option(min=0, help=HELP["examples"])] = None,
        final_answer: Annotated[
            bool | None, typer.Option("--final-answer/--no-final-answer", help=HELP["final_answer"])
        ] = None,
        replan: Annotated[bool, typer.Option(help=HELP["replan"])] = False,
        max_turns: Annotated[int | None, typer.Option(min=1, help=HELP["max_turns"])] = None,
        seed: Annotated[int | None, typer.Option(help=HELP["seed"])] = None,
    ) -> None:
        """Reactive (ReAct) vs planned execution on bundled suites; writes JSON, Markdown, PNGs."""
        if suite not in _SUITES:
            raise _usage(f"unknown suite {suite!r}: use one of {', '.join(_SUITES)}")
        if mode not in _MODES:
            raise _usage(f"unknown mode {mode!r}: use one of {', '.join(_MODES)}")
        options = options_from(
            suite=suite,
            mode=mode,
            llm=llm,
            api_base=api_base,
            limit=limit,
            ttft_s=ttft_s,
            output_tokens_per_s=output_tokens_per_s,
            token_model=token_model,
            examples=examples,
            final_answer=final_answer,
            replan=replan,
            max_turns=max_turns,
            seed=seed,
        )
        try:
            code = execute(options, json_output=json_output, output=output)
        except MissingExtra as error:
            raise _usage(str(error)) from None
        raise typer.Exit(code)
