"""The tenant's policy: which tools a caller may see and call (DESIGN §6, second layer).

A policy is configuration (a JSON or YAML file given to ``planexec serve --config``)::

    tiers: [free, pro, admin]            # principal tiers, lowest first
    tools:                               # rules over tool names (fnmatch globs), in order
      - {match: "ledger_*", tier: pro, scopes: [ledger]}
    tenants:
      acme:
        tier: free                       # the tier of acme's principals...
        users: {alice: admin}            # ...unless named here
        allow: ["*"]                     # tool-name globs the tenant may use
        deny: ["fail"]                   # globs it may not (deny wins)
        trust: [trusted, verified]       # tool trust tiers the tenant accepts
    default: {tier: free}                # tenants not listed

A caller sees a tool when every check passes (:meth:`Policy.denial` names the first
that fails): the tenant allows the name and not denies it; the tenant accepts the tool's
trust tier; the caller's tier is at least the tier of every rule matching the tool; the
caller holds the tool's ``required_scopes`` and the scopes of every matching rule. A
caller's tier is the user's entry, else the tenant's ``tier``, else the lowest tier.
The default policy (no file) lets everyone use every tool (a tool's own
``required_scopes`` still apply).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ._spec import ToolSpec, TrustTier

__all__ = ["Caller", "Denial", "DenialReason", "Policy", "PolicyError", "TenantRules", "ToolRule"]


class PolicyError(ValueError):
    """A policy file that cannot be used (the integrator's mistake)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate keys")
    return dict(pairs)


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` refusing a key given twice in one mapping: the last one would
    silently win (a second ``acme:`` block dropping the first one's deny list)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: list[Any] = []
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # "<<: *base": explicit keys may override merged ones
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.append(key)
        return super().construct_mapping(node, deep)


class DenialReason(StrEnum):
    NOT_ALLOWED = "not_allowed"
    TRUST = "trust"
    TIER = "tier"
    SCOPE = "scope"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks: the tenant, the user (None for a key without one) and its scopes."""

    tenant: str
    user: str | None
    scopes: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Denial:
    """Why a caller may not use a tool: the reason and what would be needed."""

    tool: str
    reason: DenialReason
    needed: str

    def message(self) -> str:
        return f"{self.tool!r} is not permitted to this caller ({self.reason.value}: needs {self.needed})"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ToolRule(_Model):
    match: str = Field(min_length=1)
    tier: str | None = None
    scopes: tuple[str, ...] = ()


class TenantRules(_Model):
    tier: str | None = None
    users: dict[str, str] = Field(default_factory=dict)
    allow: tuple[str, ...] = ("*",)
    deny: tuple[str, ...] = ()
    trust: tuple[TrustTier, ...] = tuple(TrustTier)


class Policy(_Model):
    tiers: tuple[str, ...] = ()
    tools: tuple[ToolRule, ...] = ()
    tenants: dict[str, TenantRules] = Field(default_factory=dict)
    default: TenantRules = TenantRules()

    @model_validator(mode="after")
    def _tiers_known(self) -> Policy:
        known = set(self.tiers)
        if len(known) != len(self.tiers):
            raise ValueError("tiers must be distinct")
        named = [rule.tier for rule in self.tools] + [
            tier
            for rules in (self.default, *self.tenants.values())
            for tier in (rules.tier, *rules.users.values())
        ]
        unknown = sorted({tier for tier in named if tier is not None} - known)
        if unknown:
            raise ValueError(f"unknown tier(s) {', '.join(unknown)}; declare them under tiers")
        return self

    @classmethod
    def load(cls, path: str | Path) -> Policy:
        """Read a policy from a JSON or YAML file; :class:`PolicyError` names what is wrong."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise PolicyError(f"cannot read policy {path}: {error.strerror}") from None
        except UnicodeDecodeError:
            raise PolicyError(f"cannot read policy {path}: not UTF-8 text") from None
        return cls.parse(text, str(path))

    @classmethod
    def parse(cls, text: str, origin: str = "policy") -> Policy:
        """Read a policy from JSON or YAML text. Empty text is the default policy; text
        that is not a mapping, or gives a key twice, is a :class:`PolicyError`."""
        data: Any
        if text.lstrip().startswith("{"):
            try:
                data = json.loads(text, object_pairs_hook=_unique_keys)
            except ValueError:
                pass  # not JSON (or a key twice), but maybe a YAML flow mapping ({tiers: [free]})
            else:
                return cls.from_data(data, origin)
        try:
            data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no arbitrary objects
        except yaml.YAMLError as error:
            raise PolicyError(f"{origin}: not JSON or YAML: {error}") from None
        # Only an empty file is the default policy; [], 0 or false is a mistake, not "allow all".
        return cls.from_data({} if data is None else data, origin)

    @classmethod
    def from_data(cls, data: Any, origin: str = "policy") -> Policy:
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in error.errors()
            )
            raise PolicyError(f"{origin}: {problems}") from None

    def rules_of(self, tenant: str) -> TenantRules:
        return self.tenants.get(tenant, self.default)

    def tier_rank(self, caller: Caller) -> int:
        """The caller's tier as an index into ``tiers`` (0 when there are none)."""
        rules = self.rules_of(caller.tenant)
        tier = rules.users.get(caller.user or "", rules.tier) if caller.user else rules.tier
        return self.tiers.index(tier) if tier is not None else 0

    def denial(self, spec: ToolSpec, caller: Caller) -> Denial | None:
        """None when ``caller`` may see and call ``spec``; else the first reason why not."""
        rules = self.rules_of(caller.tenant)
        name = spec.name
        allowed = any(fnmatchcase(name, glob) for glob in rules.allow)
        if not allowed or any(fnmatchcase(name, glob) for glob in rules.deny):
            return Denial(name, DenialReason.NOT_ALLOWED, f"tenant {caller.tenant!r} to allow it")
        if spec.trust not in rules.trust:
            needed = f"tenant {caller.tenant!r} to accept {spec.trust.value} tools"
            return Denial(name, DenialReason.TRUST, needed)
        rank = self.tier_rank(caller)
        needed_scopes = set(spec.required_scopes)
        for rule in self.tools:
            if not fnmatchcase(name, rule.match):
                continue
            if rule.tier is not None and self.tiers.index(rule.tier) > rank:
                return Denial(name, DenialReason.TIER, f"tier {rule.tier}")
            needed_scopes.update(rule.scopes)
        missing = sorted(needed_scopes - caller.scopes)
        if missing:
            return Denial(name, DenialReason.SCOPE, f"scope(s) {', '.join(missing)}")
        return None
