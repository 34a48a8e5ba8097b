"""The stdio transport: MCP on stdin/stdout, one client per process.

The SDK's ``stdio_server`` frames the messages and keeps stray output off fd 1; stdin is
read here, without a worker thread, so the server can stop at any time: when the client
closes stdin, and on SIGINT or SIGTERM while stdin is still open (a thread blocked in
``read`` could not be cancelled, and would keep the process alive). Either way the
server's lifespan ends as usual: runs are cancelled cooperatively and their ends stored.
While serving, fd 0 points at the null device, so tools and their child processes read
EOF instead of protocol bytes.

stdio has no body limit of its own: :class:`RequestSizeLimit` refuses a request over
``max_request_bytes`` with a JSON-RPC error.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import anyio
from mcp.server import ServerRequestContext
from mcp.server.context import CallNext, HandlerResult
from mcp.server.stdio import stdio_server

from ._mcp_app import build_server
from ._mcp_errors import RequestTooLarge, mcp_error
from ._mcp_services import Services

__all__ = ["RequestSizeLimit", "serve_stdio"]

_CHUNK = 1 << 16


class RequestSizeLimit:
    """Server middleware: a request whose params are over ``max_bytes`` of JSON gets a
    JSON-RPC ``invalid request`` error (data: ``{code: request_too_large, ...}``)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.params:
            size = len(json.dumps(ctx.params, separators=(",", ":"), ensure_ascii=False).encode())
            if size > self.max_bytes:
                raise mcp_error(RequestTooLarge(size, self.max_bytes))
        return await call_next(ctx)


class _Lines:
    """The lines of a file descriptor, as ``stdio_server`` iterates its stdin.

    Waits for the descriptor to be readable, so a cancel stops it at once, where the
    descriptor supports that (pipes, terminals, sockets); reads straight away where it
    does not (a regular file or the null device, which never block)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = bytearray()
        self._eof = False
        self._pollable = True

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> str:
        while True:
            end = self._buffer.find(b"\n") + 1
            if end == 0 and self._eof:
                end = len(self._buffer)
                if end == 0:
                    raise StopAsyncIteration
            if end:
                line = bytes(self._buffer[:end])
                del self._buffer[:end]
                return line.decode("utf-8", "replace")
            await self._fill()

    async def _fill(self) -> None:
        if self._pollable:
            try:
                await anyio.wait_readable(self._fd)
            except OSError:  # epoll refuses regular files
                self._pollable = False
        try:
            chunk = os.read(self._fd, _CHUNK)
        except BlockingIOError:
            return
        if chunk:
            self._buffer += chunk
        else:
            self._eof = True


@contextmanager
def _claimed_stdin() -> Iterator[int]:
    """A private, non-blocking duplicate of fd 0; fd 0 itself reads the null device
    until the block ends, when both are as they were."""
    private = os.dup(0)
    was_blocking = os.get_blocking(private)
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null, 0)
        os.set_blocking(private, False)
        yield private
    finally:
        os.set_blocking(private, was_blocking)  # shared with the restored fd 0
        os.dup2(private, 0)
        os.close(private)
        os.close(null)


async def serve_stdio(services: Services) -> None:
    """Serve MCP on stdin/stdout until stdin closes or SIGINT/SIGTERM arrives."""
    server = build_server(services, middleware=[RequestSizeLimit(services.limits.max_request_bytes)])
    with _claimed_stdin() as fd:
        lines = cast("anyio.AsyncFile[str]", _Lines(fd))  # stdio_server only iterates it
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(_stop_on_signals, task_group.cancel_scope)
            async with stdio_server(stdin=lines) as (read_stream, write_stream):
                await server.run(read_stream, write_stream, server.create_initialization_options())
            task_group.cancel_scope.cancel()


async def _stop_on_signals(scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            scope.cancel()
            return
