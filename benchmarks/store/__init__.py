"""Store benchmark: what persisting a run costs (issue 4: at most 15 % on a 1,000-task run).

Run ``python -m benchmarks.store`` (see benchmarks/README.md, section "Store").
"""

from ._harness import benchmark

__all__ = ["benchmark"]
