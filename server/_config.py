"""The CLI's (and later the server's) configuration, read once at the edge.

Every value comes from the environment with the prefix ``PLANEXEC_`` unless the caller
passes it in; command-line options override it (``--store URL`` over ``PLANEXEC_STORE``)::

    PLANEXEC_STORE   store URL: sqlite:///path/to.db or redis://host:port/db
                     (default: planexec.db in the user's data directory, DESIGN §9)
    PLANEXEC_TENANT  the tenant every stored plan and run belongs to (default "local")
    PLANEXEC_USER    the user recorded with plans and runs (default: the OS user name)

Nothing below the edge reads the environment: commands get a :class:`Settings`.
"""

from __future__ import annotations

import getpass

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from planexec.store import default_store_url

__all__ = ["ConfigError", "Settings", "load_settings"]


class ConfigError(ValueError):
    """The environment holds a value planexec cannot use (a usage error at the CLI)."""


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no LOGNAME/USER and no passwd entry (some containers)
        return None


class Settings(BaseSettings):
    """Where stored data lives and whose it is."""

    model_config = SettingsConfigDict(env_prefix="PLANEXEC_", frozen=True, extra="ignore")

    store: str = Field(default_factory=default_store_url, min_length=1)
    tenant: str = Field(default="local", min_length=1, max_length=256)
    user: str | None = Field(default_factory=_os_user)

    def with_store(self, url: str | None) -> Settings:
        """These settings with ``url`` as the store, when given (``--store`` wins over
        ``PLANEXEC_STORE``)."""
        return self if url is None else self.model_copy(update={"store": url})


def load_settings() -> Settings:
    """Read the settings from the environment; a bad value is a :class:`ConfigError`
    naming the variable."""
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"PLANEXEC_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in error.errors()
        )
        raise ConfigError(problems) from None
