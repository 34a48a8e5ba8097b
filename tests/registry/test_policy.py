"""Policy: which tools a caller may see and call (allow/deny globs, trust, tiers, scopes),
and how a policy file is read (JSON or YAML; a bad one is a PolicyError)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from planexec.registry import Caller, Denial, DenialReason, Policy, PolicyError, ToolSpec, TrustTier
from planexec.registry._policy import TenantRules, ToolRule


def spec(name: str, **fields: Any) -> ToolSpec:
    return ToolSpec(name=name, **fields)


def caller(tenant: str = "acme", user: str | None = None, *scopes: str) -> Caller:
    return Caller(tenant, user, frozenset(scopes))


def reason(policy: Policy, tool: ToolSpec, who: Caller) -> DenialReason | None:
    denial = policy.denial(tool, who)
    return None if denial is None else denial.reason


TIERED: dict[str, Any] = {
    "tiers": ["free", "pro", "admin"],
    "tools": [{"match": "ledger_*", "tier": "pro"}],
    "tenants": {
        "acme": {"tier": "free", "users": {"alice": "admin", "bob": "free"}},
        "globex": {"tier": "pro", "users": {"carol": "free"}},
        "initech": {"users": {"dave": "pro"}},
    },
    "default": {"tier": "free"},
}


# --- the default policy -------------------------------------------------------------


@pytest.mark.parametrize("trust", list(TrustTier))
@pytest.mark.parametrize("who", [caller(), caller("other", "someone"), caller("", None, "x")])
def test_default_policy_allows_every_tool_to_every_caller(trust: TrustTier, who: Caller) -> None:
    tool = spec("anything_at_all", trust=trust, annotations={"destructive": True})
    assert Policy().denial(tool, who) is None


def test_default_policy_still_requires_the_specs_own_scopes() -> None:
    tool = spec("ledger_read", required_scopes=("ledger",))
    assert reason(Policy(), tool, caller()) is DenialReason.SCOPE
    assert Policy().denial(tool, caller("acme", None, "ledger")) is None


def test_default_policy_puts_every_caller_in_the_lowest_tier() -> None:
    assert Policy().tier_rank(caller("acme", "alice")) == 0


# --- allow and deny -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "expected"),
    [
        ("ledger_write", None),
        ("ledger_read", None),
        ("echo", None),
        ("ledger_delete", DenialReason.NOT_ALLOWED),  # allowed by a glob, denied by name
        ("echo_admin", DenialReason.NOT_ALLOWED),  # denied by a glob
        ("add", DenialReason.NOT_ALLOWED),  # matches no allow glob
        ("Echo", DenialReason.NOT_ALLOWED),  # globs are case-sensitive
        ("xledger_write", DenialReason.NOT_ALLOWED),  # a glob matches the whole name
    ],
)
def test_allow_and_deny_globs_with_deny_winning(tool: str, expected: DenialReason | None) -> None:
    policy = Policy.from_data(
        {"tenants": {"acme": {"allow": ["ledger_*", "echo*"], "deny": ["ledger_delete", "echo_?dmin"]}}}
    )
    assert reason(policy, spec(tool), caller()) is expected


def test_deny_wins_over_an_exact_allow() -> None:
    policy = Policy.from_data({"tenants": {"acme": {"allow": ["fail"], "deny": ["*"]}}})
    assert reason(policy, spec("fail"), caller()) is DenialReason.NOT_ALLOWED


def test_an_empty_allow_list_allows_nothing() -> None:
    policy = Policy.from_data({"tenants": {"acme": {"allow": []}}})
    assert reason(policy, spec("echo"), caller()) is DenialReason.NOT_ALLOWED


def test_tenants_not_listed_get_the_default_rules() -> None:
    policy = Policy.from_data({"tenants": {"acme": {"deny": ["echo"]}}, "default": {"allow": ["add"]}})
    assert reason(policy, spec("echo"), caller("acme")) is DenialReason.NOT_ALLOWED
    assert reason(policy, spec("add"), caller("acme")) is None
    assert reason(policy, spec("echo"), caller("globex")) is DenialReason.NOT_ALLOWED
    assert reason(policy, spec("add"), caller("globex")) is None
    assert policy.rules_of("globex") == policy.default == TenantRules(allow=("add",))


def test_one_tenants_rules_do_not_apply_to_another() -> None:
    policy = Policy.from_data({"tenants": {"acme": {"deny": ["*"]}, "globex": {}}})
    assert reason(policy, spec("echo"), caller("acme")) is DenialReason.NOT_ALLOWED
    assert reason(policy, spec("echo"), caller("globex")) is None
    assert reason(policy, spec("echo"), caller("acme:eu")) is None


# --- trust ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accepted", "tool_trust", "expected"),
    [
        (["trusted"], TrustTier.TRUSTED, None),
        (["trusted"], TrustTier.VERIFIED, DenialReason.TRUST),
        (["trusted"], TrustTier.UNTRUSTED, DenialReason.TRUST),
        (["trusted", "verified"], TrustTier.VERIFIED, None),
        (["trusted", "verified"], TrustTier.UNTRUSTED, DenialReason.TRUST),
        (["untrusted"], TrustTier.TRUSTED, DenialReason.TRUST),
        ([], TrustTier.TRUSTED, DenialReason.TRUST),
    ],
)
def test_a_tenant_sees_only_the_trust_tiers_it_accepts(
    accepted: list[str], tool_trust: TrustTier, expected: DenialReason | None
) -> None:
    policy = Policy.from_data({"tenants": {"acme": {"trust": accepted}}})
    assert reason(policy, spec("t", trust=tool_trust), caller()) is expected


def test_every_trust_tier_is_accepted_unless_restricted() -> None:
    assert set(TenantRules().trust) == set(TrustTier)


# --- tiers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "rank"),
    [
        (caller("acme"), 0),  # the tenant's tier
        (caller("acme", "alice"), 2),  # a user's entry overrides the tenant's tier upwards...
        (caller("globex", "carol"), 0),  # ...and downwards
        (caller("acme", "bob"), 0),
        (caller("acme", "zed"), 0),  # a user not listed has the tenant's tier
        (caller("globex"), 1),
        (caller("globex", "zed"), 1),
        (caller("initech"), 0),  # no tenant tier: the lowest
        (caller("initech", "dave"), 1),
        (caller("initech", "alice"), 0),  # alice is admin at acme only
        (caller("unlisted", "alice"), 0),  # the default's tier
    ],
)
def test_tier_is_the_users_entry_else_the_tenants_else_the_lowest(who: Caller, rank: int) -> None:
    assert Policy.from_data(TIERED).tier_rank(who) == rank


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        (caller("acme"), DenialReason.TIER),
        (caller("acme", "bob"), DenialReason.TIER),
        (caller("acme", "alice"), None),  # admin > pro
        (caller("globex"), None),  # pro == pro
        (caller("globex", "carol"), DenialReason.TIER),
        (caller("initech"), DenialReason.TIER),
        (caller("initech", "dave"), None),
        (caller("unlisted"), DenialReason.TIER),
    ],
)
def test_a_rule_tier_admits_callers_of_that_tier_and_above(
    who: Caller, expected: DenialReason | None
) -> None:
    policy = Policy.from_data(TIERED)
    assert reason(policy, spec("ledger_write"), who) is expected
    assert policy.denial(spec("echo"), who) is None  # no rule matches echo


def test_every_matching_rule_applies() -> None:
    policy = Policy.from_data(
        {
            "tiers": ["free", "pro", "admin"],
            "tools": [{"match": "*", "tier": "free"}, {"match": "ledger_*", "tier": "admin"}],
            "tenants": {"acme": {"tier": "pro", "users": {"alice": "admin"}}},
        }
    )
    assert reason(policy, spec("ledger_write"), caller("acme")) is DenialReason.TIER
    assert reason(policy, spec("ledger_write"), caller("acme", "alice")) is None
    assert reason(policy, spec("echo"), caller("acme")) is None


def test_a_rule_without_a_tier_imposes_none() -> None:
    policy = Policy.from_data({"tiers": ["free", "pro"], "tools": [{"match": "*"}]})
    assert policy.denial(spec("echo"), caller()) is None


def test_tier_denial_names_the_tool_and_the_tier_needed() -> None:
    denial = Policy.from_data(TIERED).denial(spec("ledger_write"), caller("acme"))
    assert denial == Denial("ledger_write", DenialReason.TIER, "tier pro")


# --- scopes ---------------------------------------------------------------------------


SCOPED: dict[str, Any] = {
    "tools": [{"match": "ledger_*", "scopes": ["ledger"]}, {"match": "*_write", "scopes": ["w"]}]
}


@pytest.mark.parametrize(
    ("tool", "scopes", "expected"),
    [
        (spec("ledger_read"), (), DenialReason.SCOPE),
        (spec("ledger_read"), ("ledger",), None),
        (spec("ledger_read"), ("ledger", "extra"), None),
        (spec("ledger_write"), ("ledger",), DenialReason.SCOPE),  # both rules match
        (spec("ledger_write"), ("w",), DenialReason.SCOPE),
        (spec("ledger_write"), ("ledger", "w"), None),
        (spec("ledger_read", required_scopes=("audit",)), ("ledger",), DenialReason.SCOPE),
        (spec("ledger_read", required_scopes=("audit",)), ("audit",), DenialReason.SCOPE),
        (spec("ledger_read", required_scopes=("audit",)), ("audit", "ledger"), None),
        (spec("echo", required_scopes=("audit",)), (), DenialReason.SCOPE),
        (spec("echo"), (), None),
    ],
)
def test_caller_needs_the_specs_scopes_and_those_of_every_matching_rule(
    tool: ToolSpec, scopes: tuple[str, ...], expected: DenialReason | None
) -> None:
    assert reason(Policy.from_data(SCOPED), tool, caller("acme", None, *scopes)) is expected


def test_scope_denial_lists_every_missing_scope() -> None:
    tool = spec("ledger_write", required_scopes=("audit",))
    denial = Policy.from_data(SCOPED).denial(tool, caller("acme", None, "w"))
    assert denial is not None and denial.reason is DenialReason.SCOPE
    assert denial.tool == "ledger_write"
    assert denial.needed == "scope(s) audit, ledger"


# --- which check is reported ----------------------------------------------------------


STRICT: dict[str, Any] = {
    "tiers": ["free", "pro"],
    "tools": [{"match": "*", "tier": "pro", "scopes": ["s"]}],
    "tenants": {"acme": {"tier": "free", "allow": ["ok_*"], "trust": ["trusted"]}},
}


@pytest.mark.parametrize(
    ("tool", "who", "expected"),
    [
        (spec("nope", trust=TrustTier.UNTRUSTED), caller(), DenialReason.NOT_ALLOWED),
        (spec("ok_a", trust=TrustTier.UNTRUSTED), caller(), DenialReason.TRUST),
        (spec("ok_a"), caller(), DenialReason.TIER),
        (spec("ok_a"), caller("acme", "x", "s"), DenialReason.TIER),
    ],
)
def test_the_first_failing_check_is_reported(tool: ToolSpec, who: Caller, expected: DenialReason) -> None:
    assert reason(Policy.from_data(STRICT), tool, who) is expected


def test_a_caller_passing_every_check_is_permitted() -> None:
    policy = Policy.from_data({**STRICT, "tenants": {"acme": {**STRICT["tenants"]["acme"], "tier": "pro"}}})
    assert reason(policy, spec("ok_a"), caller()) is DenialReason.SCOPE
    assert policy.denial(spec("ok_a"), caller("acme", None, "s")) is None


def test_denial_reasons_have_stable_values() -> None:
    assert [r.value for r in DenialReason] == ["not_allowed", "trust", "tier", "scope"]


# --- reading a policy -----------------------------------------------------------------


YAML_TEXT = """
tiers: [free, pro, admin]            # lowest first
tools:
  - {match: "ledger_*", tier: pro, scopes: [ledger]}
tenants:
  acme:
    tier: free
    users: {alice: admin}
    allow: ["*"]
    deny: ["fail"]
    trust: [trusted, verified]
default: {tier: free}
"""

EXPECTED = Policy(
    tiers=("free", "pro", "admin"),
    tools=(ToolRule(match="ledger_*", tier="pro", scopes=("ledger",)),),
    tenants={
        "acme": TenantRules(
            tier="free",
            users={"alice": "admin"},
            allow=("*",),
            deny=("fail",),
            trust=(TrustTier.TRUSTED, TrustTier.VERIFIED),
        )
    },
    default=TenantRules(tier="free"),
)


def test_yaml_text_is_read() -> None:
    assert Policy.parse(YAML_TEXT) == EXPECTED


def test_json_text_is_read() -> None:
    assert Policy.parse(json.dumps(yaml.safe_load(YAML_TEXT), indent=2)) == EXPECTED
    assert Policy.parse("\n  " + json.dumps(yaml.safe_load(YAML_TEXT))) == EXPECTED


def test_yaml_flow_mapping_is_read_though_it_is_not_json() -> None:
    assert Policy.parse("{tiers: [free, pro], default: {tier: pro}}") == Policy(
        tiers=("free", "pro"), default=TenantRules(tier="pro")
    )


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n"])
def test_an_empty_policy_is_the_default_policy(text: str) -> None:
    assert Policy.parse(text) == Policy()


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml", ".conf"])
def test_policy_files_are_loaded_as_json_or_yaml(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"policy{suffix}"
    data = yaml.safe_load(YAML_TEXT)
    path.write_text(json.dumps(data) if suffix == ".json" else YAML_TEXT, encoding="utf-8")
    assert Policy.load(path) == EXPECTED
    assert Policy.load(str(path)) == EXPECTED


def test_a_loaded_policy_decides_as_configured(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(YAML_TEXT, encoding="utf-8")
    policy = Policy.load(path)
    assert reason(policy, spec("fail"), caller("acme", "alice")) is DenialReason.NOT_ALLOWED
    assert reason(policy, spec("echo", trust=TrustTier.UNTRUSTED), caller()) is DenialReason.TRUST
    assert reason(policy, spec("ledger_write"), caller("acme", None, "ledger")) is DenialReason.TIER
    assert reason(policy, spec("ledger_write"), caller("acme", "alice")) is DenialReason.SCOPE
    assert policy.denial(spec("ledger_write"), caller("acme", "alice", "ledger")) is None


BAD_POLICIES = {
    "unknown tier in a rule": {"tiers": ["free"], "tools": [{"match": "*", "tier": "gold"}]},
    "unknown tenant tier": {"tiers": ["free"], "tenants": {"acme": {"tier": "gold"}}},
    "unknown user tier": {"tiers": ["free"], "tenants": {"acme": {"users": {"alice": "gold"}}}},
    "unknown default tier": {"tiers": ["free"], "default": {"tier": "gold"}},
    "tier without tiers": {"default": {"tier": "free"}},
    "duplicate tiers": {"tiers": ["free", "pro", "free"]},
    "extra top-level key": {"tiers": [], "roles": []},
    "extra tenant key": {"tenants": {"acme": {"allowed": ["*"]}}},
    "extra rule key": {"tools": [{"match": "*", "tiers": "free"}]},
    "extra default key": {"default": {"scopes": ["x"]}},
    "unknown trust tier": {"tenants": {"acme": {"trust": ["trusted", "kinda"]}}},
    "empty match": {"tools": [{"match": ""}]},
    "rule without match": {"tools": [{"tier": None}]},
    "allow as a string": {"tenants": {"acme": {"allow": "*"}}},
    "tenants as a list": {"tenants": ["acme"]},
}


@pytest.mark.parametrize("data", BAD_POLICIES.values(), ids=BAD_POLICIES.keys())
def test_a_bad_policy_is_a_policy_error_in_every_form(data: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(PolicyError):
        Policy.from_data(data)
    with pytest.raises(PolicyError):
        Policy.parse(json.dumps(data))
    with pytest.raises(PolicyError):
        Policy.parse(yaml.safe_dump(data))
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(PolicyError):
        Policy.load(path)


@pytest.mark.parametrize(
    "text",
    [
        "tiers: [free",  # unclosed flow sequence
        "tiers: [free]\n  tools: x\n bad",  # broken indentation
        '{"tiers": ["free"]',  # unclosed: neither JSON nor YAML
        "a: b: c",
        "key: 'unterminated",
        "!!python/object:os.system {}",  # safe_load refuses arbitrary objects
    ],
)
def test_text_that_is_not_json_or_yaml_is_a_policy_error(text: str) -> None:
    with pytest.raises(PolicyError):
        Policy.parse(text)


@pytest.mark.parametrize("text", ["[]", "- free", "0", "false", "just words", '"a string"', "[1, 2]"])
def test_a_document_that_is_not_a_mapping_is_a_policy_error_not_the_default(text: str) -> None:
    with pytest.raises(PolicyError):
        Policy.parse(text)


def test_an_unreadable_path_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError):
        Policy.load(tmp_path / "missing.yaml")
    with pytest.raises(PolicyError):
        Policy.load(tmp_path)  # a directory


def test_a_file_that_is_not_utf8_text_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(b"\xff\xfe\x00tiers: [free]\x80")
    with pytest.raises(PolicyError):
        Policy.load(path)


def test_policy_error_is_a_value_error() -> None:
    assert issubclass(PolicyError, ValueError)


def test_a_policy_is_immutable() -> None:
    policy = Policy.from_data(TIERED)
    with pytest.raises(ValueError):
        policy.tiers = ()  # type: ignore[misc]


@pytest.mark.parametrize(
    "text",
    [
        "tenants:\n  acme: {deny: ['*']}\n  acme: {}\n",  # the second block would drop the deny list
        '{"tenants": {"acme": {"deny": ["*"]}, "acme": {}}}',
        "tiers: [free]\ntiers: [free, pro]\n",
        "tenants: {acme: {users: {alice: free, alice: admin}}}",
    ],
)
def test_a_key_given_twice_is_a_policy_error_not_last_one_wins(text: str) -> None:
    with pytest.raises(PolicyError):
        Policy.parse(text)


def test_yaml_anchors_and_merge_keys_still_work() -> None:
    text = """
tiers: [free, pro]
default: &base {tier: pro, deny: [fail]}
tenants:
  acme: {<<: *base, tier: free}   # an explicit key overrides a merged one
"""
    policy = Policy.parse(text)
    assert policy.tenants["acme"] == TenantRules(tier="free", deny=("fail",))
    assert policy.default == TenantRules(tier="pro", deny=("fail",))
