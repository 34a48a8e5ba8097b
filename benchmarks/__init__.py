"""Runnable benchmark suites (``python -m benchmarks.<suite>``); results go to ``benchmarks/results/``."""
