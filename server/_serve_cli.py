"""``planexec serve [--transport stdio|http] [--host 127.0.0.1] [--port 8765]
[--tools SRC]... [--store URL] [--insecure-no-auth] [--planner-model M]
[--planner-api-base URL] [--allow-upstream HOST[:PORT]]... [--config FILE]
[--session-ttl S]`` (DESIGN §10).

Tools: the ``--tools`` sources (and the config file's ``tools``; ``demo`` when none is
given), upstream MCP servers among them connected before serving (an unreachable one
exits 1). Sessions may add tools at run time (``connect_server``, ``register_tool``) on
the ``--allow-upstream`` hosts only; the config file's ``policy`` says which tools each
tenant and tier may use (``_serve_config``). With a Redis store, cached tool results are
shared by every replica; otherwise each process caches its own.

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
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import anyio
import typer
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from planexec.registry import Catalog, HostNotAllowed, UpstreamUnavailable
from planexec.store import RedisResultCache, RedisSessionChanges, StoreError

from ._auth import AuthConfigError, PlanexecTokenVerifier, jwt_config_from
from ._cli_common import StoreOption, ToolsOption, fail, usage_error
from ._cli_store import display_url, settings_of, store_for
from ._config import ConfigError, load_planner_settings
from ._heap import freeze_startup_heap
from ._mcp_app import ToolNameClash, build_server
from ._mcp_http import InsecureBinding, check_binding, serve_http
from ._mcp_services import ServerLimits, Services, configured_identity, token_identity
from ._mcp_stdio import serve_stdio
from ._planner_config import planner_config
from ._serve_config import load_serve_config
from ._session_sources import AllowListedSources
from ._sources import ToolSourceError, open_catalog, tool_sources

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


def _found(error: BaseException, kinds: tuple[type[Exception], ...]) -> Exception | None:
    """The error of one of ``kinds`` behind ``error``, looking inside task groups'
    exception groups."""
    if isinstance(error, kinds):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _found(inner, kinds)
            if found is not None:
                return found
    return None


def _store_failure(error: BaseException) -> StoreError | None:
    found = _found(error, (StoreError,))
    return found if isinstance(found, StoreError) else None


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
        allow_upstream: Annotated[
            list[str] | None,
            typer.Option(
                "--allow-upstream",
                metavar="HOST[:PORT]",
                help="A host clients may reach with connect_server and register_tool (repeatable; "
                "HOST alone: its scheme's default port; HOST:* any port; none: they reach nothing).",
            ),
        ] = None,
        config: Annotated[
            Path | None,
            typer.Option(
                "--config",
                help="A JSON or YAML file: tools, allow_upstream, session_ttl_s and the tenant policy.",
            ),
        ] = None,
        session_ttl: Annotated[
            float | None,
            typer.Option("--session-ttl", min=1, help="Seconds a session lives after its last use (3600)."),
        ] = None,
    ) -> None:
        """Serve planexec over MCP: stdio (default) or streamable HTTP."""
        settings = settings_of(ctx, store)
        try:
            planner = planner_config(load_planner_settings().with_options(planner_model, planner_api_base))
        except ConfigError as error:
            usage_error(str(error))
        try:
            serve_config = load_serve_config(config)
        except ConfigError as error:
            usage_error(str(error))
        try:
            sources = tool_sources([*serve_config.tools, *(tools or [])] or ["demo"])
        except ToolSourceError as error:
            usage_error(str(error))
        try:
            session_sources = AllowListedSources([*serve_config.allow_upstream, *(allow_upstream or [])])
        except HostNotAllowed as error:
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
        redis_store = settings.store.startswith("redis")
        services = Services(
            catalog=Catalog(),  # replaced by the opened sources' catalog below
            store=the_store,
            principal_of=token_identity
            if verifier is not None
            else configured_identity(settings.tenant, settings.user),
            limits=ServerLimits(max_request_bytes=max_request_bytes, max_runs_per_tenant=max_runs_per_tenant),
            planner=planner,
            policy=serve_config.policy,
            session_sources=session_sources,
            session_ttl_s=session_ttl or serve_config.session_ttl_s,
            result_cache=RedisResultCache(settings.store) if redis_store else None,
            session_changes=RedisSessionChanges(settings.store) if redis_store else None,
        )
        logging.basicConfig(
            level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
        )

        async def main() -> bool:
            """Open the tool sources (upstream connections), then serve on them."""
            async with open_catalog(sources) as catalog:
                served = replace(services, catalog=catalog)
                build_server(served)  # refuse a bad catalog before binding anything
                freeze_startup_heap()  # what start-up made lives as long as the process
                if not http:
                    await serve_stdio(served)
                    return True
                return await serve_http(
                    served,
                    host=host,
                    port=port,
                    token_verifier=verifier,
                    on_listening=_announce(host, verifier is not None),
                )

        try:
            if not anyio.run(main):
                fail("server_not_started", "the HTTP server could not start (see above)", json_output=False)
        except KeyboardInterrupt:
            pass
        except Exception as error:
            clash = _found(error, (ToolNameClash, ToolSourceError))
            if clash is not None:
                usage_error(str(clash))
            upstream = _found(error, (UpstreamUnavailable,))
            if upstream is not None:
                fail("upstream_unavailable", str(upstream), json_output=False)
            failure = _store_failure(error)
            if failure is None:
                raise
            fail("store_unavailable", f"store {display_url(settings.store)!r}: {failure}", json_output=False)
