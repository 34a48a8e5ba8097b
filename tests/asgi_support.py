"""One way for tests to serve an ASGI app for real: uvicorn on a free loopback port, in
the test's own event loop (the MCP server, OpenAI-compatible stubs, plain endpoints)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from starlette.types import ASGIApp

from planexec.server._mcp_http import uvicorn_server

__all__ = ["free_port_url", "serve_asgi"]


@asynccontextmanager
async def serve_asgi(app: ASGIApp) -> AsyncIterator[str]:
    """Serve ``app`` (its lifespan run) on a free loopback port; yields its base URL
    ``http://127.0.0.1:PORT`` once it listens and stops it on the way out."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    listening = anyio.Event()
    server = uvicorn_server(app, "127.0.0.1", port, on_listening=lambda _: listening.set())
    with sock:
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(server.serve, [sock])
            with anyio.fail_after(10):
                await listening.wait()
            try:
                yield f"http://127.0.0.1:{port}"
            finally:
                server.should_exit = True


def free_port_url() -> str:
    """A loopback base URL where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"
