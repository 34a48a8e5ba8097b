"""Real upstream MCP servers for the source tests: ``planexec serve`` over streamable HTTP
as a subprocess (killable, restartable on the same port) or over stdio, and the tiny
``meta_upstream.py`` script over stdio."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream
from mcp import StdioServerParameters

from ..server.mcp_support import PLANEXEC

_ANNOUNCED = re.compile(r"serving MCP on http://127\.0\.0\.1:(\d+)/mcp")
META_UPSTREAM = StdioServerParameters(
    command=sys.executable, args=[str(Path(__file__).with_name("meta_upstream.py"))]
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANEXEC_")}
    return {**env, "PLANEXEC_TENANT": "upstream", "PLANEXEC_USER": "bob"}


def stdio_upstream(directory: Path) -> StdioServerParameters:
    """``planexec serve --transport stdio --tools demo`` as a subprocess."""
    store = f"sqlite:///{directory / 'stdio-up.db'}"
    return StdioServerParameters(
        command=PLANEXEC,
        args=["serve", "--transport", "stdio", "--tools", "demo", "--store", store],
        env=_env(),
    )


class HttpUpstream:
    """``planexec serve --transport http --tools demo`` in a subprocess on a loopback port
(without bearer tokens unless ``auth``; its store is ``store``).

    :meth:`start` waits for the server's announcement (it is listening then); the first
    start picks a free port, later ones reuse it. :meth:`kill` ends the process at once.
    """

    def __init__(self, directory: Path, task_group: anyio.abc.TaskGroup, *, auth: bool = False) -> None:
        self.store = f"sqlite:///{directory / 'http-up.db'}"
        self._auth = auth
        self._task_group = task_group
        self.port = 0
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    async def start(self) -> None:
        command = [
            PLANEXEC, "serve", "--transport", "http", "--host", "127.0.0.1", "--port", str(self.port),
            "--tools", "demo", "--store", self.store, *([] if self._auth else ["--insecure-no-auth"]),
        ]  # fmt: skip
        process = await anyio.open_process(command, env=_env(), stdin=subprocess.DEVNULL)
        assert process.stderr is not None
        lines = TextReceiveStream(process.stderr)
        seen = ""
        with anyio.fail_after(30):
            async for chunk in lines:
                seen += chunk
                if found := _ANNOUNCED.search(seen):
                    break
            else:
                raise AssertionError(f"the upstream did not announce itself: {seen}")
        self.port = int(found[1])
        self.process = process
        self._task_group.start_soon(_drain, lines)  # a full stderr pipe would stall the server

    async def kill(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            await process.wait()
            await process.aclose()


async def _drain(lines: TextReceiveStream) -> None:
    async for _ in lines:
        pass


@asynccontextmanager
async def http_upstream(directory: Path, *, auth: bool = False) -> AsyncIterator[HttpUpstream]:
    """A started :class:`HttpUpstream` (demanding bearer tokens with ``auth``), killed on
    the way out."""
    async with anyio.create_task_group() as task_group:
        upstream = HttpUpstream(directory, task_group, auth=auth)
        await upstream.start()
        try:
            yield upstream
        finally:
            await upstream.kill()
