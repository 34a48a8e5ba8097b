"""``python -m benchmarks.agentic SUITE [--mode ...] [--llm ...] [--limit N] [--json] [--output DIR]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._command import HELP, MissingExtra, execute, options_from
from ._harness import MODES
from ._suites import SUITES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.agentic", description="Reactive vs planned execution benchmarks."
    )
    parser.add_argument("suite", choices=SUITES, help=HELP["suite"])
    parser.add_argument("--mode", choices=(*MODES, "both"), default="both", help=HELP["mode"])
    parser.add_argument("--llm", default="simulated", help=HELP["llm"])
    parser.add_argument("--api-base", default=None, help=HELP["api_base"])
    parser.add_argument("--limit", type=int, default=None, help=HELP["limit"])
    parser.add_argument("--json", action="store_true", help=HELP["json"])
    parser.add_argument("--output", type=Path, default=None, help=HELP["output"])
    parser.add_argument("--ttft-s", type=float, default=None, help=HELP["ttft_s"])
    parser.add_argument("--output-tokens-per-s", type=float, default=None, help=HELP["output_tokens_per_s"])
    parser.add_argument("--token-model", default=None, help=HELP["token_model"])
    parser.add_argument("--examples", type=int, default=None, help=HELP["examples"])
    parser.add_argument(
        "--final-answer", action=argparse.BooleanOptionalAction, default=None, help=HELP["final_answer"]
    )
    parser.add_argument("--replan", action="store_true", default=None, help=HELP["replan"])
    parser.add_argument("--max-turns", type=int, default=None, help=HELP["max_turns"])
    parser.add_argument("--seed", type=int, default=None, help=HELP["seed"])
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    output, json_output = args.output, args.json
    given = {k: v for k, v in vars(args).items() if k not in ("output", "json")}
    try:
        return execute(options_from(**given), json_output=json_output, output=output)
    except MissingExtra as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
