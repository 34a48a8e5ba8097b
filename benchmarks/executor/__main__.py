"""``python -m benchmarks.executor [--quick] [--json] [--output PATH] [--seed N]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._harness import DEFAULT_OUTPUT, benchmark, write_json
from ._report import render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.executor", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat: a smoke test")
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="where to write the JSON (default benchmarks/results/executor.json; "
        "with --quick nothing is written unless --output is given)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the DAGs and latencies")
    args = parser.parse_args(argv)

    result = benchmark(quick=args.quick, seed=args.seed, progress=not args.json)
    output = args.output if args.output is not None else (None if args.quick else DEFAULT_OUTPUT)
    if output is not None:
        write_json(result, output)
    if args.json:
        json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        render(result)
        if output is not None:
            print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
