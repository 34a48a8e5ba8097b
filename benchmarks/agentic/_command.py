"""The command both entry points share (``python -m benchmarks.agentic`` and
``planexec bench``): option help, the progress bar, writing the results folder,
printing.

A run writes ``results.json``, ``results.md`` and the PNG plots into ``--output``
(default ``benchmarks/results/agentic/<suite>/`` for a full simulated run,
``.../<suite>-live/`` for a live one). A ``--limit`` run writes nothing unless
``--output`` is given, so a quick look never overwrites the recorded results.
``--json`` prints only the summary document on stdout; progress goes to stderr.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from ._harness import BenchOptions, problem_count, run, summary
from ._report import markdown, plot

__all__ = ["HELP", "MissingExtra", "default_output", "execute", "write_results"]

RESULTS = Path("benchmarks") / "results" / "agentic"

HELP = {
    "suite": "Suite to run: parallelqa, game24 or synthetic.",
    "mode": "reactive (ReAct), reactive_parallel (parallel function calling), planned, or both (all three).",
    "llm": "'simulated' (scripted gold policy, virtual time) or a litellm model string for a live run.",
    "api_base": "Base URL of an OpenAI-compatible endpoint for a live model.",
    "limit": "Run only N problems, round-robin over the parallel widths (writes nothing unless --output).",
    "json": "Print only the JSON summary on stdout.",
    "output": "Results folder (default benchmarks/results/agentic/SUITE/).",
    "ttft_s": "Simulated time to first token, s (default 0.39: Artificial Analysis, GPT-4o May '24, OpenAI).",
    "output_tokens_per_s": "Simulated output speed, tokens/s (default 81: the same source).",
    "token_model": "Model whose tokenizer litellm counts simulated tokens with.",
    "examples": "Worked examples in the ReAct system prompt and in the planner's context (same number).",
    "final_answer": "Planned mode asks the model for a final answer (default: on for parallelqa only).",
    "replan": "Planned mode replans once when the run fails.",
    "max_turns": "Largest number of model calls of one ReAct episode.",
    "seed": "Seed of the synthetic jobs.",
}


class MissingExtra(Exception):
    """A package of the ``bench`` extra is not installed."""


def _require(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtra(f"the benchmarks need {', '.join(missing)}: pip install 'planexec[bench]'")


def default_output(options: BenchOptions) -> Path | None:
    if options.limit is not None:
        return None
    return RESULTS / (options.suite if options.simulated else f"{options.suite}-live")


def write_results(result: dict[str, Any], folder: Path) -> list[Path]:
    """``results.json``, ``results.md`` and the plots, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "results.json"
    tmp = data.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(data)
    table = folder / "results.md"
    table.write_text(markdown(result), encoding="utf-8")
    return [data, table, *plot(result, folder)]


def execute(options: BenchOptions, *, json_output: bool, output: Path | None) -> int:
    """Run, write, print. Raises :class:`MissingExtra` or ValueError (a usage error)."""
    folder = output if output is not None else default_output(options)
    _require(*(["trio"] if options.simulated else []), *(["matplotlib"] if folder is not None else []))
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    total = problem_count(options)
    console = Console(stderr=True)
    # stdout is the --json document's alone: anything a library prints there during the run
    # (litellm prints help banners on provider errors) goes to stderr instead.
    with (
        contextlib.redirect_stdout(sys.stderr),
        Progress(
            TextColumn(f"{options.suite} [{options.mode}]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=json_output,
        ) as progress,
    ):
        task = progress.add_task("runs", total=total)
        result = run(options, lambda: progress.advance(task))
        written = write_results(result, folder) if folder is not None else []
    if json_output:
        json.dump(summary(result), sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(markdown(result))
        for path in written:
            console.print(f"wrote {path}")
    return 0


def options_from(**given: Any) -> BenchOptions:
    """BenchOptions from keyword arguments, leaving out those not given (None)."""
    base = BenchOptions(suite=str(given.pop("suite")))
    return replace(base, **{k: v for k, v in given.items() if v is not None})
