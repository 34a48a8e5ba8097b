"""``planexec keys create|list|revoke``: API keys for the HTTP server (DESIGN §7, §10).

- ``keys create --tenant T [--user U] [--scopes a,b] [--json]``: makes a key and prints it
  once (it is stored hashed only and cannot be shown again); ``--json`` prints
  ``{key, key_id, tenant, user, scopes}``.
- ``keys list [--tenant T] [--json]``: the tenant's keys (``PLANEXEC_TENANT`` by default),
  revoked ones included, oldest first; ``--json`` prints a list of
  ``{key_id, tenant, user, scopes, created_at, revoked_at}``. Never a hash.
- ``keys revoke KEY_ID --tenant T [--json]``: the key is refused from then on; revoking
  again is not an error. A key id the tenant does not have is ``not_found`` (exit 1),
  whether or not another tenant has it; ``--json`` prints ``{key_id, tenant, revoked}``.

Every command takes ``--store URL``. Exit codes: 0 done, 1 store failure or unknown key,
2 usage error (a bad scope, an empty tenant or user, a store URL planexec cannot use).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from planexec.store import ApiKeyEntry, Store

from ._auth_keys import create_api_key, list_api_keys, revoke_api_key, validate_scopes
from ._cli_common import JsonOption, StoreOption, print_json, stdout_console, usage_error
from ._cli_store import settings_of, with_store
from ._config import Settings

__all__ = ["register"]

keys_app = typer.Typer(
    name="keys",
    help="API keys for the HTTP server: create (shown once), list, revoke.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

TenantOption = Annotated[str, typer.Option("--tenant", metavar="T", help="The tenant the key belongs to.")]


def _for_tenant(ctx: typer.Context, store: str | None, tenant: str) -> Settings:
    if not tenant:
        usage_error("--tenant must not be empty")
    return settings_of(ctx, store).model_copy(update={"tenant": tenant})


def _public(entry: ApiKeyEntry) -> dict[str, Any]:
    """What may be shown of a key: everything but its hash."""
    return entry.model_dump(
        mode="json", include={"key_id", "tenant", "user", "scopes", "created_at", "revoked_at"}
    )


def _split_scopes(scopes: str | None) -> tuple[str, ...]:
    if scopes is None:
        return ()
    try:
        return validate_scopes(part.strip() for part in scopes.split(",") if part.strip())
    except ValueError as error:
        usage_error(f"--scopes: {error}")


@keys_app.command("create")
def create(
    ctx: typer.Context,
    tenant: TenantOption,
    user: Annotated[
        str | None, typer.Option("--user", metavar="U", help="The user the key acts as.", show_default=False)
    ] = None,
    scopes: Annotated[
        str | None,
        typer.Option(
            "--scopes", metavar="a,b", help="Comma-separated scopes the key grants.", show_default=False
        ),
    ] = None,
    json_output: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Create an API key and print it once: only its hash is stored."""
    scope_list = _split_scopes(scopes)
    if user is not None and not user:
        usage_error("--user must not be empty (leave it out for a key of no particular user)")
    settings = _for_tenant(ctx, store, tenant)

    async def body(opened: Store) -> tuple[str, ApiKeyEntry]:
        return await create_api_key(opened, tenant, user, scope_list)

    key, entry = with_store(settings, body, json_output=json_output)
    if json_output:
        print_json(
            {
                "key": key,
                "key_id": entry.key_id,
                "tenant": entry.tenant,
                "user": entry.user,
                "scopes": list(entry.scopes),
            }
        )
        return
    console = stdout_console()
    who = f", user {escape(entry.user)}" if entry.user else ""
    granted = ", ".join(entry.scopes) or "none"
    console.print(
        f"Created API key [bold]{entry.key_id}[/bold] for tenant {escape(entry.tenant)}{who}, "
        f"scopes: {escape(granted)}",
        soft_wrap=True,
        highlight=False,
    )
    typer.echo(key)  # plain, on a line of its own: nothing wraps or styles it
    console.print(
        "[yellow]Store this key now: it is not shown again.[/yellow] "
        "Send it as 'Authorization: Bearer <key>'.",
        soft_wrap=True,
    )


@keys_app.command("list")
def list_keys(
    ctx: typer.Context,
    tenant: Annotated[
        str | None,
        typer.Option(
            "--tenant", metavar="T", help="Whose keys. Default: PLANEXEC_TENANT.", show_default=False
        ),
    ] = None,
    json_output: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """List a tenant's API keys (never their secrets or hashes)."""
    settings = _for_tenant(ctx, store, tenant) if tenant is not None else settings_of(ctx, store)

    async def body(opened: Store) -> list[ApiKeyEntry]:
        return await list_api_keys(opened, settings.tenant)

    entries = with_store(settings, body, json_output=json_output)
    if json_output:
        print_json([_public(entry) for entry in entries])
        return
    console = stdout_console()
    if not entries:
        console.print(f"no API keys in tenant {escape(settings.tenant)}", soft_wrap=True)
        return
    table = Table(box=None, pad_edge=False)
    for column in ("key id", "user", "scopes", "created (UTC)", "status"):
        table.add_column(column, no_wrap=column in ("key id", "created (UTC)"))
    for entry in entries:
        status = "active" if entry.revoked_at is None else f"revoked {entry.revoked_at:%Y-%m-%d %H:%M:%S}"
        table.add_row(
            entry.key_id,
            escape(entry.user or "-"),
            escape(" ".join(entry.scopes) or "-"),
            f"{entry.created_at:%Y-%m-%d %H:%M:%S}",
            f"[red]{status}[/red]" if entry.revoked_at else f"[green]{status}[/green]",
        )
    console.print(table, soft_wrap=True)


@keys_app.command("revoke")
def revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="The key id (see `planexec keys list`).")],
    tenant: TenantOption,
    json_output: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Revoke an API key: the server refuses it from now on."""
    settings = _for_tenant(ctx, store, tenant)

    async def body(opened: Store) -> None:
        await revoke_api_key(opened, tenant, key_id)

    with_store(settings, body, json_output=json_output)
    if json_output:
        print_json({"key_id": key_id, "tenant": tenant, "revoked": True})
    else:
        stdout_console().print(f"revoked API key {escape(key_id)} of tenant {escape(tenant)}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``keys`` command group to ``app``."""
    app.add_typer(keys_app)
