"""Reactive vs planned execution benchmarks (``python -m benchmarks.agentic SUITE`` or
``planexec bench SUITE``): Game of 24, ParallelQA-style questions and synthetic DAGs, run
as a ReAct loop and as plan-then-execute on the same tools through the same registry."""
