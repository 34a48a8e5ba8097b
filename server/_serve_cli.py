"""``planexec serve [--transport stdio|http] [--host 127.0.0.1] [--port 8765]
[--tools SRC]... [--store URL] [--insecure-no-auth] [--planner-model M]
[--planner-api-base URL]`` (DESIGN §10).

``create_plan`` plans with the model of ``--planner-model``/``PLANEXEC_PLANNER_MODEL``
(its key only from ``PLANEXEC_PLANNER_API_KEY``: argv is visible in ``ps``), else with
the client's own LLM through MCP sampling (see ``_config`` for every variable).

stdio acts for the configured identity (``PLANEXEC_TENANT``, ``PLANEXEC_USER``) and
writes nothing but MCP on stdout. HTTP demands bearer tokens (API keys from ``planexec
keys create``; JWTs when ``PLANEXEC_JWT_SECRET`` or ``PLANEXEC_JWT_JWKS_FILE`` is set)
unless ``--insecure-no-auth``, which acts for the configured identity and is refused
(exit 2) on any host but loopback. ``--port 0`` picks a free port; the HTTP server
announces its URL on stderr once it listens.

Exit codes: 0 after a clean shutdown (stdin closed, SIGINT/SIGTERM), 1 when the server
cannot start or the store is unavailable, 2 on a usage error.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

import anyio
import typer
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from planexec.store import StoreError

from ._auth import AuthConfigError, PlanexecTokenVerifier, jwt_config_from
from ._cli_common import StoreOption, ToolsOption, fail, usage_error
from ._cli_store import display_url, settings_of, store_for
from ._config import ConfigError, load_planner_settings
from ._mcp_app import ToolNameClash, build_server
from ._mcp_http import InsecureBinding, check_binding, serve_http
from ._mcp_services import ServerLimits, Services, configured_identity, token_identity
from ._mcp_stdio import serve_stdio
from ._planner_config import planner_config
from ._sources import ToolSourceError, catalog_from_sources

__all__ = ["register"]

_DEFAULT_LIMITS = ServerLimits()


class Transport(StrEnum):
    STDIO = "stdio"
    HTTP = "http"


class _JwtEnv(BaseSettings):
    """``PLANEXEC_JWT_*``: how HTTP checks JWTs (see ``_auth_jwt``)."""

    model_config = SettingsConfigDict(env_prefix="PLANEXEC_JWT_", frozen=True, extra="ignore")

    secret: str | None = None
    jwks_file: str | None = None
    tenant_claim: str | None = None
    audience: str | None = None
    issuer: str | None = None
    leeway_s: int | None = None


def _announce(host: str, authenticated: bool) -> Callable[[int], None]:
    shown = f"[{host}]" if ":" in host else host

    def on_listening(port: int) -> None:
        auth = "bearer tokens" if authenticated else "NO AUTH (loopback only)"
        print(f"planexec: serving MCP on http://{shown}:{port}/mcp ({auth})", file=sys.stderr, flush=True)

    return on_listening


def _store_failure(error: BaseException) -> StoreError | None:
    """The store error behind ``error``, looking inside task groups' exception groups."""
    if isinstance(error, StoreError):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _store_failure(inner)
            if found is not None:
                return found
    return None


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""

    @app.command()
    def serve(
        ctx: typer.Context,
        transport: Annotated[
            Transport, typer.Option("--transport", help="stdio, or streamable HTTP at /mcp.")
        ] = Transport.STDIO,
        host: Annotated[str, typer.Option("--host", help="HTTP: the address to listen on.")] = "127.0.0.1",
        port: Annotated[
            int, typer.Option("--port", min=0, max=65535, help="HTTP: the port (0 picks a free one).")
        ] = 8765,
        tools: ToolsOption = None,
        store: StoreOption = None,
        insecure_no_auth: Annotated[
            bool,
            typer.Option(
                "--insecure-no-auth",
                help="HTTP without bearer tokens, as the configured tenant; loopback hosts only.",
            ),
        ] = False,
        max_request_bytes: Annotated[
            int, typer.Option(min=1, help="Largest request accepted, in bytes.")
        ] = _DEFAULT_LIMITS.max_request_bytes,
        max_runs_per_tenant: Annotated[
            int, typer.Option(min=1, help="Runs of one tenant in progress at once.")
        ] = _DEFAULT_LIMITS.max_runs_per_tenant,
        planner_model: Annotated[
            str | None,
            typer.Option(
                "--planner-model",
                help="create_plan's LLM, a litellm model string (PLANEXEC_PLANNER_MODEL); "
                "unset: the client's LLM through MCP sampling. The key: PLANEXEC_PLANNER_API_KEY.",
            ),
        ] = None,
        planner_api_base: Annotated[
            str | None,
            typer.Option("--planner-api-base", help="The LLM provider's URL (PLANEXEC_PLANNER_API_BASE)."),
        ] = None,
    ) -> None:
        """Serve planexec over MCP: stdio (default) or streamable HTTP."""
        settings = settings_of(ctx, store)
        try:
            planner = planner_config(load_planner_settings().with_options(planner_model, planner_api_base))
        except ConfigError as error:
            usage_error(str(error))
        try:
            catalog = catalog_from_sources(tools or ["demo"])
        except ToolSourceError as error:
            usage_error(str(error))
        http = transport is Transport.HTTP
        if insecure_no_auth and not http:
            usage_error("--insecure-no-auth applies to --transport http only (stdio has no auth)")
        try:
            check_binding(host, authenticated=not (http and insecure_no_auth))
        except InsecureBinding as error:
            usage_error(str(error))
        the_store = store_for(settings)
        verifier: PlanexecTokenVerifier | None = None
        if http and not insecure_no_auth:
            try:
                env = _JwtEnv()
                jwt = jwt_config_from(
                    env.secret, env.jwks_file, env.tenant_claim, env.audience, env.issuer, env.leeway_s
                )
                verifier = PlanexecTokenVerifier(the_store, jwt)
            except (AuthConfigError, ValidationError) as error:
                usage_error(f"JWT configuration: {error}")
        services = Services(
            catalog=catalog,
            store=the_store,
            principal_of=token_identity
            if verifier is not None
            else configured_identity(settings.tenant, settings.user),
            limits=ServerLimits(max_request_bytes=max_request_bytes, max_runs_per_tenant=max_runs_per_tenant),
            planner=planner,
        )
        try:
            build_server(services)  # refuse a bad catalog before binding anything
        except ToolNameClash as error:
            usage_error(str(error))
        logging.basicConfig(
            level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
        )
        try:
            if http:
                started = anyio.run(
                    lambda: serve_http(
                        services,
                        host=host,
                        port=port,
                        token_verifier=verifier,
                        on_listening=_announce(host, verifier is not None),
                    )
                )
                if not started:
                    fail(
                        "server_not_started", "the HTTP server could not start (see above)", json_output=False
                    )
            else:
                anyio.run(serve_stdio, services)
        except KeyboardInterrupt:
            pass
        except Exception as error:
            failure = _store_failure(error)
            if failure is None:
                raise
            fail("store_unavailable", f"store {display_url(settings.store)!r}: {failure}", json_output=False)
