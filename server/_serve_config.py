"""``planexec serve --config FILE``: the server's tool catalog, upstream allow-list,
tenant policy and session lifetime in one JSON or YAML file::

    tools: [demo, "up=http://127.0.0.1:9000/mcp", "stdio:python -m my_tools"]
    allow_upstream: ["tools.internal:8443", "127.0.0.1"]
    session_ttl_s: 3600
    policy:                       # see planexec.registry.Policy
      tiers: [free, pro]
      tools: [{match: "ledger_*", tier: pro}]
      tenants: {acme: {tier: pro}}

Command-line values add to the file's: ``--tools`` and ``--allow-upstream`` extend its
lists, ``--session-ttl`` replaces its TTL. Stdio upstreams are server configuration only:
a client can never make the server start a process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from planexec.registry import Policy, PolicyError

from ._config import ConfigError

__all__ = ["ServeConfig", "load_serve_config"]


class ServeConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tools: tuple[str, ...] = ()
    allow_upstream: tuple[str, ...] = ()
    session_ttl_s: float = Field(default=3600.0, gt=0)
    policy: Policy = Policy()


def load_serve_config(path: Path | None) -> ServeConfig:
    """The file's configuration (defaults without one); :class:`ConfigError` naming the
    file and what is wrong in it."""
    if path is None:
        return ServeConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"--config {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--config {path}: not UTF-8 text") from None
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"--config {path}: not JSON or YAML: {error}") from None
    if data is None:
        return ServeConfig()
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path}: expected a mapping of settings")
    policy_data = data.pop("policy", None)
    if policy_data is not None and not isinstance(policy_data, dict):
        raise ConfigError(f"--config {path}: policy must be a mapping (see planexec.registry.Policy)")
    try:
        policy = Policy.from_data(policy_data or {}, f"--config {path}: policy")
        return ServeConfig.model_validate({**data, "policy": policy})
    except PolicyError as error:
        raise ConfigError(str(error)) from None
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        raise ConfigError(f"--config {path}: {problems}") from None
