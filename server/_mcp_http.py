"""Streamable HTTP: the MCP endpoint at ``/mcp``, ``/healthz``, served by uvicorn.

One endpoint serves both protocol eras (the SDK routes by the ``MCP-Protocol-Version``
header): older clients ``initialize`` and keep an ``Mcp-Session-Id`` (their sessions
live in this process's memory), 2026-07-28 clients send each request on its own, with no
session. Bodies over ``max_request_bytes`` are answered 413 before they are parsed.

Auth: with a ``token_verifier`` every ``/mcp`` request needs ``Authorization: Bearer``
(401 otherwise) and handlers find the token's principal (``token_identity``). Without
one the server acts for its configured identity, which :func:`check_binding` allows
only on a loopback address. ``/healthz`` needs no token.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable

import uvicorn
from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from planexec import __version__

from ._auth import StoreUnavailableMiddleware
from ._mcp_app import build_server
from ._mcp_services import Services

__all__ = ["InsecureBinding", "check_binding", "http_app", "is_loopback", "serve_http", "uvicorn_server"]

logger = logging.getLogger("planexec.server")


class InsecureBinding(ValueError):
    """No authentication on an address other machines can reach (a usage error)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(host: str, *, authenticated: bool) -> None:
    """Refuse to serve without authentication anywhere but on loopback."""
    if not authenticated and not is_loopback(host):
        raise InsecureBinding(
            f"--insecure-no-auth serves anyone who can reach {host}; it is allowed only on a "
            "loopback address (127.0.0.1, ::1, localhost). Drop it and use bearer tokens "
            "(planexec keys create), or bind to 127.0.0.1."
        )


async def _healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "version": __version__})


def http_app(
    services: Services,
    *,
    host: str = "127.0.0.1",
    token_verifier: TokenVerifier | None = None,
    auth: AuthSettings | None = None,
) -> Starlette:
    """The ASGI app: ``/mcp`` (both eras) and ``/healthz``. Its lifespan runs the MCP
    session manager, which runs the server's own lifespan (store, runs)."""
    server = build_server(services)
    if token_verifier is not None and auth is None:
        # Bearer tokens only: no OAuth authorization server to advertise.
        netloc = f"[{host}]" if ":" in host else host
        auth = AuthSettings.model_validate({"issuer_url": f"http://{netloc}", "resource_server_url": None})
    app = server.streamable_http_app(
        streamable_http_path="/mcp",
        host=host,
        max_request_body_size=services.limits.max_request_bytes,
        token_verifier=token_verifier,
        auth=auth if token_verifier is not None else None,
        custom_starlette_routes=[Route("/healthz", _healthz, methods=["GET"])],
    )
    if token_verifier is not None:
        app.add_middleware(StoreUnavailableMiddleware)
    return app


class _Server(uvicorn.Server):
    """uvicorn that says when it listens (and on which port, for ``--port 0``)."""

    def __init__(self, config: uvicorn.Config, on_listening: Callable[[int], None] | None) -> None:
        super().__init__(config)
        self._on_listening = on_listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._on_listening is not None:
            port = int(self.servers[0].sockets[0].getsockname()[1])
            self._on_listening(port)


def uvicorn_server(
    app: Starlette,
    host: str,
    port: int,
    on_listening: Callable[[int], None] | None = None,
) -> uvicorn.Server:
    """A uvicorn server for ``app`` (``await server.serve()``; ``server.should_exit =
    True`` stops it); ``on_listening(port)`` is called once it accepts connections."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=5,
        server_header=False,
    )
    return _Server(config, on_listening)


async def serve_http(
    services: Services,
    *,
    host: str,
    port: int,
    token_verifier: TokenVerifier | None,
    on_listening: Callable[[int], None] | None = None,
) -> bool:
    """Serve until interrupted (SIGINT/SIGTERM). False when the server could not start
    (the port is taken, the store cannot be opened: uvicorn has logged why)."""
    check_binding(host, authenticated=token_verifier is not None)
    app = http_app(services, host=host, token_verifier=token_verifier)
    server = uvicorn_server(app, host, port, on_listening)
    try:
        await server.serve()
    except SystemExit:  # uvicorn's way to fail at startup
        return False
    return server.started
