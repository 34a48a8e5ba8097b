"""How CLI commands reach the store: settings from the context, one store per command,
and store failures turned into exit codes.

- a store URL planexec cannot use (``--store``/``PLANEXEC_STORE``): usage error, exit 2;
- :class:`StoreUnavailable`: ``store_unavailable``, exit 1;
- :class:`NotFound` (an unknown run or plan, in this tenant or any other): ``not_found``,
  exit 1;
- any other store error: ``store_error``, exit 1;
- :class:`CommandFailed` raised by a command body: its own code, exit 1.

Exit-1 failures print the message on stderr and, with ``--json``, the document
``{"error": {"code", "message"}}`` on stdout (see :func:`._cli_common.fail`). Failures
that arrive wrapped in exception groups (a store lost under a running task group) are
unwrapped first. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import NoReturn, TypeVar
from urllib.parse import urlsplit, urlunsplit

import anyio
import typer

from planexec.store import NotFound, Store, StoreError, StoreUnavailable, open_store

from ._cli_common import fail, usage_error
from ._config import ConfigError, Settings, load_settings

__all__ = ["CommandFailed", "display_url", "open_settings", "settings_of", "store_for", "with_store"]

T = TypeVar("T")


class CommandFailed(Exception):
    """A command body could not do its job (exit 1 with ``code`` and ``message``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _BadStoreUrl(Exception):
    pass


def open_settings() -> Settings:
    """The settings from the environment; a bad value is a usage error (exit 2)."""
    try:
        return load_settings()
    except ConfigError as error:
        usage_error(str(error))


def settings_of(ctx: typer.Context, store: str | None) -> Settings:
    """The settings the root command read (once), with ``--store`` applied."""
    settings = ctx.find_object(Settings)
    if settings is None:  # a command invoked without the root callback (tests of one command)
        settings = open_settings()
        ctx.obj = settings
    return settings.with_store(store)


def _leaf(error: BaseException) -> BaseException:
    """The failure to report: an exception group's first store or command failure, else
    the error itself."""
    if isinstance(error, BaseExceptionGroup):
        matched = error.subgroup(lambda e: isinstance(e, StoreError | CommandFailed | _BadStoreUrl))
        if matched is not None:
            first: BaseException = matched
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            return first
    return error


def _report(error: BaseException, settings: Settings, json_output: bool) -> NoReturn:
    if isinstance(error, _BadStoreUrl):
        usage_error(f"store {display_url(settings.store)!r}: {error}")
    if isinstance(error, CommandFailed):
        fail(error.code, error.message, json_output=json_output)
    if isinstance(error, StoreUnavailable):
        fail("store_unavailable", f"the store is unavailable: {error}", json_output=json_output)
    if isinstance(error, NotFound):
        fail("not_found", f"{error} in tenant {settings.tenant!r}", json_output=json_output)
    if isinstance(error, StoreError):
        fail("store_error", f"the store failed: {error}", json_output=json_output)
    raise error


def display_url(url: str) -> str:
    """``url`` without its password, fit to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


def store_for(settings: Settings) -> Store:
    """The (unopened) store the settings name; a URL planexec cannot use is a usage
    error (exit 2). No I/O: commands call it first to refuse a bad URL early."""
    try:
        return open_store(settings.store)
    except ValueError as error:  # StoreConfigError, or a URL the backend cannot parse
        usage_error(f"store {display_url(settings.store)!r}: {error}")


def with_store(settings: Settings, body: Callable[[Store], Awaitable[T]], *, json_output: bool) -> T:
    """Open the settings' store, await ``body(store)``, close the store, return the result.

    Store problems end the command as the module docstring says; ``typer.Exit`` raised by
    ``body`` (outside any task group) passes through.
    """
    store = store_for(settings)

    async def main() -> T:
        async with AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(store)
            except ValueError as error:  # e.g. redis://host/notanumber, found on connecting
                raise _BadStoreUrl(str(error)) from None
            return await body(store)

    try:
        return anyio.run(main)
    except (StoreError, CommandFailed, _BadStoreUrl, BaseExceptionGroup) as error:
        _report(_leaf(error), settings, json_output)
