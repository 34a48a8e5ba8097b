"""Executor benchmark: per-task overhead and makespan against baselines and LangGraph.

Run ``python -m benchmarks.executor`` (see benchmarks/README.md, section "Executor").
"""

from ._harness import benchmark

__all__ = ["benchmark"]
