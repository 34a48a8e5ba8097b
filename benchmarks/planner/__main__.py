"""``python -m benchmarks.planner [--quick] [--json] [--output PATH] [--llm MODEL
[--api-base URL] [--api-key KEY]]``.

Offline by default (recorded answers); ``--llm`` runs the goals against any litellm model
and writes ``benchmarks/results/planner_live.json`` unless ``--output`` says otherwise.
The API key defaults to ``PLANEXEC_PLANNER_API_KEY`` (else the provider's own variable).
"""

from __future__ import annotations

import argparse
import functools
import os
from typing import Any

from .. import _common
from ._harness import MAX_REPAIRS, benchmark


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def render(result: dict[str, Any]) -> None:
    config = result["config"]
    summary = result["summary"]
    print(
        f"Planner ({config['mode']}, model {config['model']}, prompt {config['prompt_version']}, "
        f"max_repairs {config['max_repairs']}): {summary['goals']} goals, {summary['answers']} answers"
    )
    head = ["kind", "goals", "parsed", "valid r0", "valid r1", "valid r2", "never", "prompt tok", "compl tok"]
    table = [head]
    for kind, entry in [*result["by_kind"].items(), ("all", summary)]:
        after = entry["valid_after_round"]
        tokens = entry["tokens_per_goal"]
        table.append(
            [
                kind,
                str(entry["goals"]),
                _pct(entry["parse_rate"]),
                *(_pct(after[str(k)]) for k in range(MAX_REPAIRS + 1)),
                _pct(entry["never_valid"]),
                f"{tokens['prompt_mean']:.0f}",
                f"{tokens['completion_mean']:.0f}",
            ]
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    first = _pct(summary["first_answer_parse_rate"])
    print(f"first-answer parse rate {first}; mean rounds {summary['mean_rounds']}")
    print(f"planner time per goal (median) {summary['planner_ms_median']} ms")
    print(f"error codes {summary['error_codes']}")
    checks = result.get("checks")
    if checks is not None:
        verdict = "yes" if checks["every_goal_as_recorded"] else f"NO: {checks['mismatched']}"
        print(f"every goal as recorded: {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--llm", default=None, help="a litellm model string for a live run")
    parser.add_argument("--api-base", default=None)
    parser.add_argument("--api-key", default=None)
    live, rest = parser.parse_known_args(argv)
    if live.llm is None and (live.api_base or live.api_key):
        parser.error("--api-base and --api-key need --llm")
    if live.llm is not None and "--output" not in rest and not any(a.startswith("--output=") for a in rest):
        rest += ["--output", str(_common.REPO / "benchmarks" / "results" / "planner_live.json")]
    run = functools.partial(
        benchmark,
        llm=live.llm,
        api_base=live.api_base,
        api_key=live.api_key or os.environ.get("PLANEXEC_PLANNER_API_KEY"),
    )
    return _common.main(
        rest,
        name="planner",
        description=__doc__ + "\n--llm MODEL, --api-base URL, --api-key KEY: a live run (see above).",
        quick_help="8 of the recorded goals: a smoke test",
        seed_help="unused (the recorded pairs are fixed)",
        benchmark=run,
        render=render,
    )


if __name__ == "__main__":
    raise SystemExit(main())
