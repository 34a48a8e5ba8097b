"""Choosing a backend from a store URL."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from ._protocol import Store

__all__ = ["StoreConfigError", "default_store_url", "open_store"]


class StoreConfigError(ValueError):
    """A store URL planexec cannot use (the integrator's mistake)."""


def default_store_url(data_home: str | None = None) -> str:
    """``sqlite:///<data dir>/planexec/planexec.db``: ``$XDG_DATA_HOME`` (or
    ``~/.local/share``) unless ``data_home`` is given."""
    base = Path(data_home or os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{(base / 'planexec' / 'planexec.db').resolve()}"


def open_store(url: str) -> Store:
    """A store for ``url`` (not yet opened: use it as an async context manager)."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from ._sqlite import SqliteStore

        path = url.removeprefix("sqlite://")
        if not path.startswith("/") or path == "/":
            raise StoreConfigError(f"{url!r}: write sqlite:///absolute/path.db (three slashes)")
        return SqliteStore(path, url=url)
    if scheme in ("redis", "rediss", "redis+cluster", "rediss+cluster"):
        from ._redis import RedisStore

        return RedisStore(url)
    raise StoreConfigError(
        f"unsupported store URL {url!r}: use sqlite:///path.db, redis://host:port/db"
        " or redis+cluster://host:port"
    )
