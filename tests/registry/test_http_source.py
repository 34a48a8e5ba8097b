"""HttpToolSource against a real Starlette app served by uvicorn on a free loopback port
in the test's event loop: methods, query vs body, _meta headers, status mapping,
response shapes, size cap, redirects and timeouts."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from planexec.registry import HttpEndpoint, HttpToolSource, ToolCallError, ToolErrorCode, TrustTier

from ..asgi_support import serve_asgi

pytestmark = pytest.mark.anyio

META = {
    "planexec/run_id": "run-1",
    "planexec/task_id": "fetch",
    "planexec/attempt": 3,
    "planexec/idempotency_key": "run-1:fetch",
}
LIMIT = 64 * 1024
_META_HEADERS = {"x-planexec-run-id", "x-planexec-task-id", "x-planexec-attempt", "idempotency-key"}


def _app(release: anyio.Event) -> Starlette:
    async def echo(request: Request) -> Response:
        raw = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "query": dict(request.query_params),
                "body": json.loads(raw) if raw else None,
                "headers": {k: v for k, v in request.headers.items() if k in _META_HEADERS},
            }
        )

    async def status(request: Request) -> Response:
        code = int(request.path_params["code"])
        return PlainTextResponse(f"nope {code} " + "x" * 2000, status_code=code)

    async def big(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(LIMIT // 1024 + 2):
                yield b"y" * 1024

        return StreamingResponse(chunks(), media_type="text/plain")  # no content-length

    async def slow(request: Request) -> Response:
        await release.wait()
        return PlainTextResponse("late")

    return Starlette(
        routes=[
            Route("/echo", echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            Route("/list", lambda r: JSONResponse([1, 2, 3])),
            Route("/text", lambda r: PlainTextResponse("hello")),
            Route("/bad-json", lambda r: Response("{nope", media_type="application/json")),
            Route("/status/{code}", status),
            Route("/big", big),
            Route("/declared-big", lambda r: PlainTextResponse("z" * (LIMIT + 1))),
            Route("/slow", slow),
            Route("/here", lambda r: RedirectResponse("/echo", status_code=307), methods=["POST"]),
            Route("/away", lambda r: RedirectResponse("http://example.invalid/echo", status_code=307)),
        ]
    )


@asynccontextmanager
async def _served() -> AsyncIterator[str]:
    release = anyio.Event()
    async with serve_asgi(_app(release)) as base:
        try:
            yield base
        finally:
            release.set()


def _endpoint(name: str, base: str, path: str, method: str = "POST", **extra: Any) -> HttpEndpoint:
    description = f"{method} {path}"
    return HttpEndpoint(name, description, base + path, method, **extra)  # type: ignore[arg-type]


async def test_methods_send_a_body_or_query_parameters_and_meta_as_headers() -> None:
    async with _served() as base:
        methods = ("GET", "POST", "PUT", "PATCH", "DELETE")
        endpoints = [_endpoint(m.lower(), base, "/echo", m) for m in methods]
        async with HttpToolSource("web", endpoints, prefix="web__") as source:
            specs = {spec.name: spec for spec in source.specs()}
            assert set(specs) == {"web__get", "web__post", "web__put", "web__patch", "web__delete"}
            assert specs["web__get"].annotations.read_only is True
            assert specs["web__post"].annotations.idempotent is False
            assert specs["web__put"].idempotent and specs["web__delete"].annotations.destructive
            assert {spec.trust for spec in specs.values()} == {TrustTier.UNTRUSTED}
            assert {spec.source for spec in specs.values()} == {"http:web"}
            arguments = {"q": "planexec", "n": 3, "tags": ["a", "b"]}
            headers = {
                "x-planexec-run-id": "run-1",
                "x-planexec-task-id": "fetch",
                "x-planexec-attempt": "3",
                "idempotency-key": "run-1:fetch",
            }
            for method in ("POST", "PUT", "PATCH"):
                result = await source.call(f"web__{method.lower()}", arguments, META)
                assert result.structured_content == {
                    "method": method,
                    "query": {},
                    "body": arguments,
                    "headers": headers,
                }
            for method in ("GET", "DELETE"):
                result = await source.call(f"web__{method.lower()}", arguments, META)
                assert result.structured_content == {
                    "method": method,
                    "query": {"q": "planexec", "n": "3", "tags": '["a","b"]'},
                    "body": None,
                    "headers": headers,
                }


async def test_response_shapes_json_object_other_json_and_text() -> None:
    async with _served() as base:
        endpoints = [_endpoint("list", base, "/list", "GET"), _endpoint("text", base, "/text", "GET")]
        async with HttpToolSource("web", endpoints) as source:
            listed = await source.call("list", {}, META)
            assert listed.structured_content == {"result": [1, 2, 3]} and not listed.is_error
            text = await source.call("text", {}, META)
            assert text.structured_content is None
            assert text.content == [{"type": "text", "text": "hello"}]


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (400, ToolErrorCode.TOOL_ERROR, False),
        (404, ToolErrorCode.TOOL_ERROR, False),
        (422, ToolErrorCode.TOOL_ERROR, False),
        (408, ToolErrorCode.TRANSPORT_ERROR, True),
        (429, ToolErrorCode.TRANSPORT_ERROR, True),
        (500, ToolErrorCode.TRANSPORT_ERROR, True),
        (503, ToolErrorCode.TRANSPORT_ERROR, True),
    ],
)
async def test_error_statuses_map_to_codes_with_a_bounded_excerpt(
    status: int, code: ToolErrorCode, retryable: bool
) -> None:
    async with _served() as base:
        async with HttpToolSource("web", [_endpoint("s", base, f"/status/{status}", "GET")]) as source:
            with pytest.raises(ToolCallError) as failed:
                await source.call("s", {}, META)
    assert failed.value.code is code and failed.value.retryable is retryable
    assert failed.value.detail["status"] == status
    body = failed.value.detail["body"]
    assert body.startswith(f"nope {status}") and len(body) == 500


async def test_failures_oversized_bodies_bad_json_redirects_timeouts_and_refused_connections() -> None:
    async with _served() as base:
        endpoints = [
            _endpoint("big", base, "/big", "GET"),
            _endpoint("declared_big", base, "/declared-big", "GET"),
            _endpoint("bad_json", base, "/bad-json", "GET"),
            _endpoint("here", base, "/here", "POST"),
            _endpoint("away", base, "/away", "GET"),
            _endpoint("slow", base, "/slow", "GET", timeout_s=0.3),
        ]
        async with HttpToolSource("web", endpoints, max_response_bytes=LIMIT) as source:
            for name in ("big", "declared_big", "bad_json", "away"):
                with pytest.raises(ToolCallError) as failed:
                    await source.call(name, {}, META)
                assert failed.value.code is ToolErrorCode.TOOL_ERROR and not failed.value.retryable, name
            redirected = await source.call("here", {"x": 1}, META)  # same origin, 307: followed
            assert redirected.structured_content is not None
            assert redirected.structured_content["body"] == {"x": 1}
            with pytest.raises(ToolCallError) as timed_out:
                await source.call("slow", {}, META)
            assert timed_out.value.code is ToolErrorCode.TIMEOUT and timed_out.value.retryable

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    async with HttpToolSource("web", [_endpoint("gone", f"http://127.0.0.1:{dead}", "/x")]) as source:
        with pytest.raises(ToolCallError) as refused:
            await source.call("gone", {}, META)
    assert refused.value.code is ToolErrorCode.TRANSPORT_ERROR and refused.value.retryable


async def test_arguments_that_break_the_input_schema_are_not_sent() -> None:
    schema = {
        "type": "object",
        "properties": {"q": {"type": "string"}, "n": {"type": "integer", "minimum": 1}},
        "required": ["q"],
        "additionalProperties": False,
    }
    async with _served() as base:
        async with HttpToolSource("web", [_endpoint("search", base, "/echo", input_schema=schema)]) as source:
            with pytest.raises(ToolCallError) as refused:
                await source.call("search", {"n": 0, "extra": True}, META)
            assert refused.value.code is ToolErrorCode.INVALID_ARGUMENTS and not refused.value.retryable
            assert len(refused.value.detail["errors"]) == 3
            sent = await source.call("search", {"q": "x", "n": 2}, META)
            assert sent.structured_content is not None
            assert sent.structured_content["body"] == {"q": "x", "n": 2}


@pytest.mark.parametrize(
    "fields",
    [
        {"url": "ftp://example.com/"},
        {"method": "TRACE"},
        {"timeout_s": 0},
        {"input_schema": {"type": "array"}},
        {"input_schema": {"type": "object", "properties": {"a": {"type": "no-such-type"}}}},
        {"output_schema": {"type": 5}},
    ],
)
def test_unusable_endpoints_are_refused_when_built(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        HttpEndpoint(**{"name": "x", "description": "", "url": "http://example.com/", **fields})


def test_one_tool_name_twice_is_refused_and_methods_are_upper_cased() -> None:
    twice = [HttpEndpoint("x", "", "http://a/"), HttpEndpoint("x", "", "http://b/")]
    with pytest.raises(ValueError):
        HttpToolSource("web", twice)
    assert HttpEndpoint("x", "", "http://example.com/", "get").method == "GET"  # type: ignore[arg-type]
