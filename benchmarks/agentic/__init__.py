"""Reactive vs planned execution benchmarks (``python -m benchmarks.agentic SUITE`` or
``planexec bench SUITE``): Game of 24, ParallelQA-style questions and synthetic DAGs, run
as a ReAct loop and as plan-then-execute on the same tools through the same registry.

::

    from planexec.benchmarks.agentic import BenchOptions, run, summary

    result = run(BenchOptions(suite="parallelqa", limit=8))  # simulated LLM, virtual time
    print(summary(result))  # {"suite", "modes": {...}, "speedup", "token_ratio"}
"""

from ._harness import MODES, BenchOptions, run, summary
from ._llm import LatencyModel, Meter, SimulatedLLM, TokenCounter
from ._suite import Problem, Suite
from ._suites import SUITES, load_suite

__all__ = [
    "MODES",
    "SUITES",
    "BenchOptions",
    "LatencyModel",
    "Meter",
    "Problem",
    "SimulatedLLM",
    "Suite",
    "TokenCounter",
    "load_suite",
    "run",
    "summary",
]
