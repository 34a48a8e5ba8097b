"""planexec's edge: the CLI (and, with the server issue, the MCP server). Nothing imports it."""

from ._cli import app, main

__all__ = ["app", "main"]
