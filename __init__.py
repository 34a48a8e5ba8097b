"""planexec: a plan-then-execute orchestration engine for LLM agents, served over MCP."""

__version__ = "0.1.0"
