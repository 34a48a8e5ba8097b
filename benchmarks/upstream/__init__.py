"""Benchmark: upstream MCP tool sources."""
