"""Round-trip latency of the MCP server over HTTP (see ``__main__``)."""
