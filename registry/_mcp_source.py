"""Tools of an upstream MCP server (stdio command or streamable HTTP URL), named ``alias__tool``.

Lifecycle: ``async with McpToolSource(alias, endpoint) as source`` starts a supervisor
task, connects and lists the upstream tools (a failure raises :class:`UpstreamUnavailable`
and leaves nothing running); leaving the block closes the connection and the subprocess.
The connection (its transport task group) belongs to the supervisor, so the task that
entered the source may be a long-lived keeper while calls come from any other task.

Calls: :meth:`McpToolSource.call` strips the alias, sends the arguments with the caller's
``meta`` as the request ``_meta``, and returns the upstream result as it is (an
``is_error`` result stays one, structured content kept). Without a caller deadline a call
is bounded by ``timeout_s`` (``ToolCallError`` ``timeout``, retryable). A cancelled call
sends the upstream a cancellation and leaves the connection usable.

Failures (every one a :class:`~._spec.ToolCallError`)::

    ToolCallError
      ├─ UpstreamUnavailable   transport_error, retryable: connecting failed, or the
      │                        connection was lost (the call was refused or cut short)
      ├─ code=timeout          no answer within timeout_s (retryable)
      ├─ code=invalid_arguments the upstream refused the arguments (JSON-RPC -32602)
      └─ code=tool_error       any other JSON-RPC error, or a malformed result

Reconnection: a lost connection is dropped; the next call asks the supervisor for a new
one. Callers arriving while a connection is being made wait for that one attempt and
share its outcome; nothing reconnects while nobody calls. The tool list is re-read on
every connection, by :meth:`McpToolSource.refresh`, and when the upstream says its tools
changed: ``notifications/tools/list_changed`` from an older-era upstream, a
``subscriptions/listen`` event from a 2026-07-28 one. ``on_change`` is awaited after
such an announced change and after a reconnection that found different tools (not
after :meth:`refresh`: its caller knows).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any, Literal

import anyio
import anyio.lowlevel
import mcp_types as types
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from ._spec import ToolAnnotations, ToolCallError, ToolErrorCode, ToolResult, ToolSpec, TrustTier

__all__ = ["McpToolSource", "UpstreamUnavailable"]

logger = logging.getLogger(__name__)

ALIAS_PATTERN = re.compile(r"^[a-zA-Z0-9-]{1,24}$")
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_LIST_PAGE_CAP = 100

_LOST_CODES = frozenset({types.CONNECTION_CLOSED, types.INVALID_REQUEST})
"""JSON-RPC errors meaning the connection, not the tool, failed: the SDK's own
``CONNECTION_CLOSED``, and ``INVALID_REQUEST``, which is how the SDK reports an HTTP 404
for an older-era session the upstream no longer knows (it restarted). The SDK never
sends a request the upstream could otherwise call invalid."""


class UpstreamUnavailable(ToolCallError):
    """The upstream could not be reached, or the connection was lost (retryable)."""

    def __init__(self, alias: str, message: str, *, detail: dict[str, Any] | None = None) -> None:
        super().__init__(
            ToolErrorCode.TRANSPORT_ERROR,
            f"upstream {alias!r}: {message}",
            retryable=True,
            detail={"source": f"mcp:{alias}", **(detail or {})},
        )


OnChange = Callable[["McpToolSource"], Awaitable[None]]


class _Attempt:
    """One connection attempt that any number of callers wait for."""

    __slots__ = ("done", "failure")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.failure: tuple[str, dict[str, Any]] | None = None


class _Connection:
    __slots__ = ("client", "lost")

    def __init__(self, client: Client) -> None:
        self.client = client
        self.lost = anyio.Event()


def _describe(error: BaseException) -> str:
    """The innermost failure of an exception group, as ``Type: message``."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class McpToolSource:
    """An upstream MCP server as a tool source (see the module docstring).

    ``endpoint`` is a streamable HTTP URL or :class:`mcp.StdioServerParameters` (stdio
    upstreams come from server configuration only). ``trust`` is the tier of every tool
    (default ``untrusted``: the owner raises it for configured upstreams). ``headers``
    go with every HTTP request (e.g. ``Authorization``). ``mode`` is the SDK client's:
    ``auto`` (2026-07-28 where the upstream speaks it, else the handshake) or
    ``legacy``.
    """

    def __init__(
        self,
        alias: str,
        endpoint: str | StdioServerParameters,
        *,
        trust: TrustTier = TrustTier.UNTRUSTED,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 15.0,
        headers: Mapping[str, str] | None = None,
        mode: Literal["auto", "legacy"] = "auto",
        on_change: OnChange | None = None,
    ) -> None:
        if not ALIAS_PATTERN.match(alias):
            raise ValueError(f"alias {alias!r} must match {ALIAS_PATTERN.pattern} (letters, digits, -)")
        if isinstance(endpoint, str) and not endpoint.startswith(("http://", "https://")):
            raise ValueError(f"upstream {alias!r}: {endpoint!r} is not an http(s):// URL")
        if headers and not isinstance(endpoint, str):
            raise ValueError(f"upstream {alias!r}: headers go with HTTP upstreams only")
        self.name = alias
        self.alias = alias
        self.endpoint = endpoint
        self.trust = trust
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.mode = mode
        self.skipped: list[str] = []
        """Upstream tools left out: their ``alias__name`` would not be a valid tool name (or
        repeats one), or their input or output schema is not a JSON Schema."""
        self._headers = dict(headers or {})
        self._on_change = on_change
        self._specs: dict[str, ToolSpec] = {}
        self._upstream: dict[str, str] = {}
        self._connection: _Connection | None = None
        self._attempt: _Attempt | None = None
        self._requests: MemoryObjectSendStream[_Attempt] | None = None  # made on entering
        self._stack: AsyncExitStack | None = None
        self._closed = False
        self._changed = anyio.Event()
        """Set when the upstream says its tools changed; replaced when a refresh starts."""

    @property
    def source(self) -> str:
        return f"mcp:{self.alias}"

    def watch(self, on_change: OnChange | None) -> None:
        """Call ``on_change`` (instead of the constructor's) when the tools change."""
        self._on_change = on_change

    def __repr__(self) -> str:
        where = self.endpoint if isinstance(self.endpoint, str) else f"stdio:{self.endpoint.command}"
        return f"McpToolSource({self.alias!r}, {where!r})"

    # -- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> McpToolSource:
        if self._stack is not None or self._closed:
            raise RuntimeError(f"{self!r} can be entered once")
        async with AsyncExitStack() as stack:
            self._requests, incoming = anyio.create_memory_object_stream[_Attempt](1)
            stack.push_async_callback(self._close, incoming)
            task_group = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(task_group.cancel_scope.cancel)  # runs first: stops the supervisor
            await task_group.start(self._supervise, incoming)
            try:
                await self._connected()
            except UpstreamUnavailable as error:
                failure = error  # raised once the stack has closed (not wrapped in a group)
            else:
                self._stack = stack.pop_all()
                return self
        raise failure

    async def __aexit__(self, *exc_info: object) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def _close(self, incoming: MemoryObjectReceiveStream[_Attempt]) -> None:
        self._closed = True
        if self._requests is not None:
            self._requests.close()
        incoming.close()

    # -- the tool source protocol --------------------------------------------------------

    def specs(self) -> list[ToolSpec]:
        return list(self._specs.values())

    async def call(self, name: str, arguments: Mapping[str, Any], meta: Mapping[str, Any]) -> ToolResult:
        upstream = self._upstream.get(name)
        if upstream is None:
            raise ToolCallError(ToolErrorCode.TOOL_ERROR, f"source {self.name!r} has no tool {name!r}")
        no_deadline = anyio.current_effective_deadline() == math.inf  # the caller set none
        connection: _Connection | None = None
        try:
            with anyio.fail_after(self.timeout_s if no_deadline else None):
                connection = await self._connected()
                result = await connection.client.call_tool(upstream, dict(arguments), meta=dict(meta))  # type: ignore[arg-type]
        except TimeoutError:
            raise ToolCallError(
                ToolErrorCode.TIMEOUT,
                f"{name}: upstream {self.alias!r} did not answer within {self.timeout_s} s",
                retryable=True,
                detail={"timeout_s": self.timeout_s, "source": self.source},
            ) from None
        except MCPError as error:
            raise self._call_failure(name, error, connection) from None
        except (RuntimeError, ValidationError) as error:
            if connection is not None and connection.lost.is_set():  # closed under this call
                raise UpstreamUnavailable(self.alias, f"{name}: the connection was lost") from None
            # The SDK checks a result against the tool's output schema (RuntimeError) and
            # the protocol's result shape (ValidationError).
            raise ToolCallError(
                ToolErrorCode.TOOL_ERROR,
                f"{name}: upstream {self.alias!r} answered with an unusable result: {error}",
                detail={"source": self.source},
            ) from None
        return _tool_result(result)

    async def refresh(self) -> list[ToolSpec]:
        """Re-read the upstream tool list (connecting if need be); the new specs."""
        connection = await self._connected()
        try:
            with anyio.fail_after(self.timeout_s):
                await self._list_tools(connection.client)
        except TimeoutError:
            raise ToolCallError(
                ToolErrorCode.TIMEOUT,
                f"upstream {self.alias!r} did not list its tools within {self.timeout_s} s",
                retryable=True,
                detail={"timeout_s": self.timeout_s, "source": self.source},
            ) from None
        except MCPError as error:
            raise self._call_failure("tools/list", error, connection) from None
        return self.specs()

    # -- connection management -----------------------------------------------------------

    async def _connected(self) -> _Connection:
        """The live connection, after making one (shared with concurrent callers) if needed."""
        connection = self._connection
        if connection is not None:
            return connection
        if self._closed or self._requests is None:
            raise UpstreamUnavailable(self.alias, "the source is not open (use 'async with')")
        attempt = self._attempt
        if attempt is None:
            attempt = self._attempt = _Attempt()
            self._requests.send_nowait(attempt)  # the supervisor takes one attempt at a time
        await attempt.done.wait()
        if attempt.failure is not None:
            message, detail = attempt.failure
            raise UpstreamUnavailable(self.alias, message, detail=detail)
        connection = self._connection
        if connection is None:
            raise UpstreamUnavailable(self.alias, "the connection was lost")
        return connection

    def _drop(self, connection: _Connection | None) -> None:
        if connection is not None:
            connection.lost.set()
            if self._connection is connection:
                self._connection = None

    def _call_failure(self, name: str, error: MCPError, connection: _Connection | None) -> ToolCallError:
        code = error.code
        detail = {"source": self.source, "mcp_code": code}
        if code in _LOST_CODES:
            self._drop(connection)
            return UpstreamUnavailable(
                self.alias, f"{name}: the connection was lost ({error})", detail=detail
            )
        if code == types.INVALID_PARAMS:
            return ToolCallError(
                ToolErrorCode.INVALID_ARGUMENTS, f"{name}: upstream {self.alias!r}: {error}", detail=detail
            )
        return ToolCallError(
            ToolErrorCode.TOOL_ERROR, f"{name}: upstream {self.alias!r}: {error}", detail=detail
        )

    async def _supervise(
        self,
        incoming: MemoryObjectReceiveStream[_Attempt],
        *,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Make connections on request, one at a time, and hold each until it is lost."""
        task_status.started()
        async for attempt in incoming:
            await self._hold_connection(attempt)

    def _finish(self, attempt: _Attempt, failure: str | None, detail: dict[str, Any] | None = None) -> None:
        if not attempt.done.is_set():
            attempt.failure = None if failure is None else (failure, detail or {})
            if self._attempt is attempt:
                self._attempt = None
            attempt.done.set()

    async def _hold_connection(self, attempt: _Attempt) -> None:
        connection: _Connection | None = None
        try:
            with anyio.CancelScope(deadline=anyio.current_time() + self.connect_timeout_s) as connecting:
                async with AsyncExitStack() as stack:
                    self._changed = anyio.Event()  # before listing: a change during it counts
                    client = await stack.enter_async_context(await self._client(stack))
                    before = self._specs
                    await self._list_tools(client)
                    async with anyio.create_task_group() as watchers:
                        if before and before != self._specs:  # reconnected to changed tools
                            watchers.start_soon(self._notify_change)
                        if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
                            await watchers.start(self._listen, client)  # listening before first use
                        connecting.deadline = math.inf
                        connection = self._connection = _Connection(client)
                        self._finish(attempt, None)
                        watchers.start_soon(self._follow_changes, connection)
                        await connection.lost.wait()
                        watchers.cancel_scope.cancel()
            if connecting.cancelled_caught and connection is None:
                self._finish(
                    attempt,
                    f"no connection within {self.connect_timeout_s} s",
                    {"connect_timeout_s": self.connect_timeout_s},
                )
        except Exception as error:  # a lost or refused connection is reported, never raised here
            self._finish(attempt, f"cannot connect: {_describe(error)}")
        finally:
            self._drop(connection)
            self._finish(attempt, "the source is closing")

    async def _client(self, stack: AsyncExitStack) -> Client:
        if isinstance(self.endpoint, StdioServerParameters):
            return Client(self.endpoint, mode=self.mode, message_handler=self._on_message)
        http = await stack.enter_async_context(create_mcp_http_client(headers=self._headers))
        transport = streamable_http_client(self.endpoint, http_client=http)
        return Client(transport, mode=self.mode, message_handler=self._on_message)

    async def _list_tools(self, client: Client) -> None:
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(_LIST_PAGE_CAP):
            page = await client.list_tools(cursor=cursor, cache_mode="bypass")
            tools.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        specs: dict[str, ToolSpec] = {}
        upstream: dict[str, str] = {}
        skipped: list[str] = []
        for tool in tools:
            name = f"{self.alias}__{tool.name}"
            if not _TOOL_NAME.match(name) or name in specs or not _usable_schemas(tool):
                skipped.append(tool.name)
                continue
            specs[name] = self._spec(name, tool)
            upstream[name] = tool.name
        self._specs, self._upstream, self.skipped = specs, upstream, skipped

    def _spec(self, name: str, tool: types.Tool) -> ToolSpec:
        hints = tool.annotations
        return ToolSpec(
            name=name,
            description=tool.description or "",
            input_schema=dict(tool.input_schema),
            output_schema=None if tool.output_schema is None else dict(tool.output_schema),
            annotations=ToolAnnotations(
                read_only=hints.read_only_hint if hints else None,
                destructive=hints.destructive_hint if hints else None,
                idempotent=hints.idempotent_hint if hints else None,
                open_world=hints.open_world_hint if hints else None,
            ),
            trust=self.trust,
            source=self.source,
        )

    # -- change notifications --------------------------------------------------------------

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self._changed.set()  # the refresh runs in _follow_changes, not in the read loop
        await anyio.lowlevel.checkpoint()

    async def _listen(self, client: Client, *, task_status: TaskStatus[None]) -> None:
        """2026-07-28 upstreams announce changes on a listen stream, not as notifications
        (and replay none): started once the upstream acknowledged the stream, or gave up."""
        started = False
        try:
            with anyio.CancelScope(deadline=anyio.current_time() + self.connect_timeout_s) as waiting:
                async with client.listen(tools_list_changed=True) as subscription:
                    waiting.deadline = math.inf
                    started = True
                    task_status.started()
                    async for _ in subscription:
                        self._changed.set()
        except Exception as error:  # no listen stream here (or it ended): only changes go unseen
            logger.debug("%r: no tools/list_changed events: %s", self, _describe(error))
        finally:
            if not started:
                task_status.started()

    async def _follow_changes(self, connection: _Connection) -> None:
        while True:
            await self._changed.wait()
            self._changed = anyio.Event()  # a change announced during the refresh refreshes again
            try:
                with anyio.fail_after(self.timeout_s):
                    await self._list_tools(connection.client)
            except MCPError as error:
                if error.code in _LOST_CODES:
                    self._drop(connection)
                    return
                logger.warning("%r: re-listing tools failed: %s", self, error)
                continue
            except Exception as error:  # a slow or malformed answer: keep the tools we had
                logger.warning("%r: re-listing tools failed: %s", self, _describe(error))
                continue
            await self._notify_change()

    async def _notify_change(self) -> None:
        if self._on_change is not None:
            try:
                await self._on_change(self)
            except Exception:  # the owner's callback must not take the connection down
                logger.exception("on_change of %r failed", self)


def _usable_schemas(tool: types.Tool) -> bool:
    """Whether the schemas an untrusted upstream declares are JSON Schemas (validation and
    the planner compile them)."""
    try:
        for schema in (tool.input_schema, tool.output_schema):
            if schema is not None:
                Draft202012Validator.check_schema(schema)
    except SchemaError:
        return False
    return True


def _tool_result(result: types.CallToolResult) -> ToolResult:
    content = [block.model_dump(by_alias=True, mode="json", exclude_none=True) for block in result.content]
    return ToolResult(content=content, structured_content=result.structured_content, is_error=result.is_error)
