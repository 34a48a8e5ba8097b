"""``python -m benchmarks.executor [--quick] [--json] [--output PATH] [--seed N]``."""

from __future__ import annotations

from .. import _common
from ._harness import benchmark
from ._report import render


def main(argv: list[str] | None = None) -> int:
    return _common.main(
        argv,
        name="executor",
        description=__doc__,
        quick_help="small sizes, one repeat: a smoke test",
        seed_help="seed of the DAGs and latencies",
        benchmark=benchmark,
        render=render,
    )


if __name__ == "__main__":
    raise SystemExit(main())
