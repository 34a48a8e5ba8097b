"""Benchmark: runs in a server process with and without its start-up heap frozen."""
