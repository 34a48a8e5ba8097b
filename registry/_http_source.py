"""Tools that are plain HTTP endpoints (``register_tool {name, description, url, method,
input_schema}``), called with httpx2 (the HTTP client the MCP SDK itself uses).

Request: the arguments are first checked against the endpoint's input schema
(``invalid_arguments``, nothing sent); POST, PUT and PATCH send them as a JSON body, GET
and DELETE as query parameters (a non-scalar value JSON-encoded). ``_meta`` travels as headers:
``x-planexec-run-id``, ``x-planexec-task-id``, ``x-planexec-attempt`` and
``Idempotency-Key``.

Response (2xx): a JSON object is the structured output; any other JSON value is
``{"result": value}``; a non-JSON body is one text block. Failures::

    ToolCallError
      ├─ code=transport_error (retryable)  cannot connect, connection lost, or status 408,
      │                                    429 or 5xx (detail: status, body excerpt)
      ├─ code=timeout (retryable)          no complete answer within the endpoint's timeout_s
      └─ code=tool_error (not retryable)   any other status (detail: status, body excerpt), a
                                           body over max_response_bytes, a 2xx body declared
                                           JSON that does not parse, a redirect to another
                                           origin (not followed) or too many redirects

Redirects are followed (at most 5) only within the URL's origin (scheme, host, port).
Tool annotations follow HTTP method semantics: GET is read-only, PUT and DELETE are
idempotent, POST and PATCH neither; every endpoint is open-world.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx2
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from ._spec import ToolAnnotations, ToolCallError, ToolErrorCode, ToolResult, ToolSpec, TrustTier

__all__ = ["HttpEndpoint", "HttpToolSource"]

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_RETRYABLE_STATUS = frozenset({408, 429})
_MAX_REDIRECTS = 5
_EXCERPT = 500
_JSON_TYPE = re.compile(r"^application/(?:[\w.+-]+\+)?json\b", re.IGNORECASE)
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024

_META_HEADERS = {
    "planexec/run_id": "x-planexec-run-id",
    "planexec/task_id": "x-planexec-task-id",
    "planexec/attempt": "x-planexec-attempt",
    "planexec/idempotency_key": "Idempotency-Key",
}


@dataclass(frozen=True)
class HttpEndpoint:
    """One HTTP endpoint offered as a tool; a method, URL or schema that cannot be used
    is a ValueError when it is built."""

    name: str
    description: str
    url: str
    method: Method = "POST"
    input_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    output_schema: dict[str, Any] | None = None
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        method = self.method.upper()
        if method not in _METHODS:
            raise ValueError(f"endpoint {self.name!r}: method {self.method!r} is not one of {_METHODS}")
        object.__setattr__(self, "method", method)
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"endpoint {self.name!r}: {self.url!r} is not an http(s):// URL")
        if self.timeout_s <= 0:
            raise ValueError(f"endpoint {self.name!r}: timeout_s must be positive")
        for which, schema in (("input_schema", self.input_schema), ("output_schema", self.output_schema)):
            if schema is not None:
                try:
                    Draft202012Validator.check_schema(schema)
                except SchemaError as error:
                    message = f"endpoint {self.name!r}: {which} is not a JSON Schema: {error.message}"
                    raise ValueError(message) from None
        if self.input_schema.get("type", "object") != "object":
            raise ValueError(f"endpoint {self.name!r}: input_schema must describe an object")

    def annotations(self) -> ToolAnnotations:
        return ToolAnnotations(
            read_only=self.method == "GET",
            destructive=self.method == "DELETE",
            idempotent=self.method in ("GET", "PUT", "DELETE"),
            open_world=True,
        )


class HttpToolSource:
    """HTTP endpoints as tools named ``prefix + endpoint.name``.

    An async context manager: entering opens an HTTP client (unless ``client`` is given,
    which then stays the caller's to close). ``headers`` go with every request.
    """

    def __init__(
        self,
        name: str,
        endpoints: Iterable[HttpEndpoint],
        *,
        prefix: str = "",
        trust: TrustTier = TrustTier.UNTRUSTED,
        headers: Mapping[str, str] | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        client: httpx2.AsyncClient | None = None,
    ) -> None:
        self.name = name
        self.max_response_bytes = max_response_bytes
        self._headers = dict(headers or {})
        self._endpoints: dict[str, HttpEndpoint] = {}
        self._validators: dict[str, Draft202012Validator] = {}
        self._specs: dict[str, ToolSpec] = {}
        for endpoint in endpoints:
            tool_name = prefix + endpoint.name
            if tool_name in self._specs:
                raise ValueError(f"source {name!r} offers the tool name {tool_name!r} twice")
            self._endpoints[tool_name] = endpoint
            self._validators[tool_name] = Draft202012Validator(endpoint.input_schema)
            self._specs[tool_name] = ToolSpec(
                name=tool_name,
                description=endpoint.description,
                input_schema=endpoint.input_schema,
                output_schema=endpoint.output_schema,
                annotations=endpoint.annotations(),
                trust=trust,
                source=f"http:{name}",
            )
        self._client = client
        self._stack: AsyncExitStack | None = None

    async def __aenter__(self) -> HttpToolSource:
        if self._client is None:
            self._stack = AsyncExitStack()
            self._client = await self._stack.enter_async_context(httpx2.AsyncClient(follow_redirects=False))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            self._client = None
            await stack.aclose()

    def specs(self) -> list[ToolSpec]:
        return list(self._specs.values())

    async def call(self, name: str, arguments: Mapping[str, Any], meta: Mapping[str, Any]) -> ToolResult:
        endpoint = self._endpoints.get(name)
        if endpoint is None:
            raise ToolCallError(ToolErrorCode.TOOL_ERROR, f"source {self.name!r} has no tool {name!r}")
        if self._client is None:
            raise RuntimeError(f"HTTP source {self.name!r} is used outside its 'async with' block")
        problems = sorted(self._validators[name].iter_errors(dict(arguments)), key=lambda e: list(e.path))
        if problems:  # the endpoint is not trusted to check what it is sent
            raise ToolCallError(
                ToolErrorCode.INVALID_ARGUMENTS,
                f"invalid arguments for {name}: {len(problems)} problem(s), first: {problems[0].message}",
                detail={"errors": [{"path": list(p.path), "message": p.message} for p in problems]},
            )
        headers = {**self._headers, "accept": "application/json, text/plain;q=0.9, */*;q=0.5"}
        for key, header in _META_HEADERS.items():
            if meta.get(key) is not None:
                headers[header] = str(meta[key])
        request = self._client.build_request(
            endpoint.method,
            endpoint.url,
            headers=headers,
            timeout=endpoint.timeout_s,
            **_payload(endpoint.method, arguments),
        )
        detail = _detail(endpoint)
        try:
            status, content_type, body = await self._send(request, endpoint)
        except httpx2.TimeoutException:
            raise ToolCallError(
                ToolErrorCode.TIMEOUT,
                f"{name}: no answer from {endpoint.url} within {endpoint.timeout_s} s",
                retryable=True,
                detail={**detail, "timeout_s": endpoint.timeout_s},
            ) from None
        except httpx2.TransportError as error:
            raise ToolCallError(
                ToolErrorCode.TRANSPORT_ERROR,
                f"{name}: {endpoint.method} {endpoint.url} failed: {type(error).__name__}: {error}",
                retryable=True,
                detail=detail,
            ) from None
        if not 200 <= status < 300:
            excerpt = body[:_EXCERPT].decode("utf-8", "replace")
            retryable = status in _RETRYABLE_STATUS or status >= 500
            raise ToolCallError(
                ToolErrorCode.TRANSPORT_ERROR if retryable else ToolErrorCode.TOOL_ERROR,
                f"{name}: {endpoint.method} {endpoint.url} answered {status}: {excerpt}",
                retryable=retryable,
                detail={**detail, "status": status, "body": excerpt},
            )
        return _result(name, content_type, body, detail)

    async def _send(self, request: httpx2.Request, endpoint: HttpEndpoint) -> tuple[int, str, bytes]:
        """(status, content type, body) of ``request``, following same-origin redirects."""
        assert self._client is not None
        origin = request.url
        for _ in range(_MAX_REDIRECTS + 1):
            response = await self._client.send(request, stream=True, follow_redirects=False)
            try:
                if response.is_redirect and response.next_request is not None:
                    target = response.next_request.url
                    if (target.scheme, target.host, target.port) != (origin.scheme, origin.host, origin.port):
                        raise ToolCallError(
                            ToolErrorCode.TOOL_ERROR,
                            f"{endpoint.name}: {endpoint.url} redirects to {target}, another origin "
                            "(not followed)",
                            detail={**_detail(endpoint), "location": str(target)},
                        )
                    request = response.next_request
                    continue
                body = await self._read(response, endpoint)
                return response.status_code, response.headers.get("content-type", ""), body
            finally:
                await response.aclose()
        raise ToolCallError(
            ToolErrorCode.TOOL_ERROR,
            f"{endpoint.name}: {endpoint.url} redirected more than {_MAX_REDIRECTS} times",
            detail={"url": endpoint.url},
        )

    async def _read(self, response: httpx2.Response, endpoint: HttpEndpoint) -> bytes:
        limit = self.max_response_bytes
        declared = response.headers.get("content-length", "")
        too_big = ToolCallError(
            ToolErrorCode.TOOL_ERROR,
            f"{endpoint.name}: the response of {endpoint.url} is larger than {limit} bytes",
            detail={"url": endpoint.url, "status": response.status_code, "max_response_bytes": limit},
        )
        if declared.isdigit() and int(declared) > limit:
            raise too_big
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise too_big
            chunks.append(chunk)
        return b"".join(chunks)


def _detail(endpoint: HttpEndpoint) -> dict[str, Any]:
    return {"url": endpoint.url, "method": endpoint.method}


def _payload(method: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    if method in _BODY_METHODS:
        return {"json": dict(arguments)}
    params = {
        key: value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        for key, value in arguments.items()
        if value is not None
    }
    return {"params": params}


def _result(name: str, content_type: str, body: bytes, detail: dict[str, Any]) -> ToolResult:
    if _JSON_TYPE.match(content_type):
        try:
            value = json.loads(body) if body.strip() else None
        except ValueError as error:
            raise ToolCallError(
                ToolErrorCode.TOOL_ERROR,
                f"{name}: the response is declared JSON but does not parse: {error}",
                detail=detail,
            ) from None
        return ToolResult.from_value(value, value if isinstance(value, dict) else {"result": value})
    text = body.decode("utf-8", "replace")
    return ToolResult(content=[{"type": "text", "text": text}])
