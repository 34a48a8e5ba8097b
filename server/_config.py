"""The CLI's (and later the server's) configuration, read once at the edge.

Every value comes from the environment with the prefix ``PLANEXEC_`` unless the caller
passes it in; command-line options override it (``--store URL`` over ``PLANEXEC_STORE``)::

    PLANEXEC_STORE   store URL: sqlite:///path/to.db, redis://host:port/db or redis+cluster://host:port
                     (default: planexec.db in the user's data directory, DESIGN §9)
    PLANEXEC_TENANT  the tenant every stored plan and run belongs to (default "local")
    PLANEXEC_USER    the user recorded with plans and runs (default: the OS user name)

``planexec serve`` also reads the planner's settings (:class:`PlannerSettings`)::

    PLANEXEC_PLANNER_MODEL           a litellm model string (openai/gpt-4.1-mini,
                                     anthropic/claude-..., ollama/llama3, ...); unset: the
                                     connected client's LLM through MCP sampling
    PLANEXEC_PLANNER_API_BASE        the provider's base URL (an OpenAI-compatible server)
    PLANEXEC_PLANNER_API_KEY         the provider's key (environment only, never argv)
    PLANEXEC_PLANNER_MAX_REPAIRS     repair rounds after an invalid plan (default 2)
    PLANEXEC_PLANNER_CONTEXT_TOKENS  the prompt's token budget for the tool catalog
                                     (default 12000; a larger catalog is trimmed)
    PLANEXEC_REQUEST_STATE_KEY       the secret (>= 32 bytes) that seals the state of a
                                     multi-round-trip call (MCP 2026-07-28 sampling); unset:
                                     a random key per process, so every replica behind one
                                     URL needs the same key set

Nothing below the edge reads the environment: commands get a :class:`Settings`.
"""

from __future__ import annotations

import getpass

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from planexec.store import default_store_url

__all__ = ["ConfigError", "PlannerSettings", "Settings", "load_planner_settings", "load_settings"]


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


class PlannerSettings(BaseSettings):
    """How ``create_plan`` reaches an LLM (``PLANEXEC_PLANNER_*``, see the module docstring).

    ``model`` unset means no configured model: the server plans with the connected
    client's LLM through MCP sampling when the client offers it."""

    model_config = SettingsConfigDict(env_prefix="PLANEXEC_PLANNER_", frozen=True, extra="ignore")

    model: str | None = Field(default=None, min_length=1)
    api_base: str | None = Field(default=None, min_length=1)
    api_key: SecretStr | None = None
    max_repairs: int = Field(default=2, ge=0, le=10)
    context_tokens: int = Field(default=12_000, ge=1_000, le=1_000_000)
    request_state_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("PLANEXEC_REQUEST_STATE_KEY", "request_state_key")
    )

    @field_validator("request_state_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError(
                "at least 32 bytes of secret randomness "
                '(python -c "import secrets; print(secrets.token_hex(32))")'
            )
        return value

    def with_options(self, model: str | None, api_base: str | None) -> PlannerSettings:
        """These settings with the command line's ``--planner-model``/``--planner-api-base``
        applied (an option wins over its variable)."""
        update = {k: v for k, v in (("model", model), ("api_base", api_base)) if v is not None}
        return self.model_copy(update=update) if update else self


def _config_error(error: ValidationError, prefix: str) -> ConfigError:
    """The variables at fault and what is wrong with them (never their values)."""

    def variable(loc: tuple[int | str, ...]) -> str:
        name = "_".join(str(part) for part in loc).upper()
        return name if name.startswith("PLANEXEC_") else prefix + name  # an alias is the full name

    return ConfigError("; ".join(f"{variable(e['loc'])}: {e['msg']}" for e in error.errors()))


def load_settings() -> Settings:
    """Read the settings from the environment; a bad value is a :class:`ConfigError`
    naming the variable."""
    try:
        return Settings()
    except ValidationError as error:
        raise _config_error(error, "PLANEXEC_") from None


def load_planner_settings() -> PlannerSettings:
    """Read the planner's settings from the environment; a bad value is a
    :class:`ConfigError` naming the variable (never its value: it may be a secret)."""
    try:
        return PlannerSettings()
    except ValidationError as error:
        raise _config_error(error, "PLANEXEC_PLANNER_") from None
