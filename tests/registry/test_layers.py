"""LayeredView: the server's catalog, the tenant's policy and the session's overlay as
one ToolView; tool fingerprints (the rug-pull guard)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from planexec.planner import validate_plan
from planexec.registry import (
    Caller,
    Catalog,
    DenialReason,
    LayeredView,
    MemoryCache,
    Policy,
    PythonToolSource,
    ResultCache,
    ToolAnnotations,
    ToolCallError,
    ToolErrorCode,
    ToolResult,
    ToolSpec,
    TrustTier,
    tool,
    tool_fingerprint,
    tool_fingerprints,
)
from planexec.schemas import ErrorCode

pytestmark = pytest.mark.anyio


class RecordingSource:
    """Answers every call with its own name; records the calls it got."""

    def __init__(self, name: str, specs: list[ToolSpec]) -> None:
        self.name = name
        self._specs = specs
        self.calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    def specs(self) -> list[ToolSpec]:
        return list(self._specs)

    async def call(self, name: str, arguments: Mapping[str, Any], meta: Mapping[str, Any]) -> ToolResult:
        self.calls.append((name, dict(arguments), dict(meta)))
        return ToolResult(structured_content={"source": self.name, "tool": name})


def specs_of(source: str, *names: str, **fields: Any) -> list[ToolSpec]:
    return [ToolSpec(name=n, source=source, **fields) for n in names]


POLICY = Policy.from_data(
    {
        "tiers": ["free", "pro"],
        "tools": [{"match": "ledger_*", "tier": "pro"}],
        "tenants": {"acme": {"tier": "free", "users": {"alice": "pro"}, "deny": ["fail"]}},
    }
)


def layers() -> tuple[RecordingSource, RecordingSource, Catalog, Catalog]:
    server = RecordingSource("server", specs_of("server", "echo", "fail", "ledger_write", "lookup"))
    session = RecordingSource("session", specs_of("session", "lookup", "notes", "ledger_note", "fail"))
    return server, session, Catalog([server]), Catalog([session])


def view(who: Caller | None = None, policy: Policy = POLICY, **kwargs: Any) -> LayeredView:
    _, _, base, overlay = layers()
    return LayeredView(base, who or Caller("acme", None), overlay=overlay, policy=policy, **kwargs)


def names(tools: list[ToolSpec]) -> list[str]:
    return [s.name for s in tools]


# --- precedence -------------------------------------------------------------------------


async def test_the_server_catalog_wins_a_name_clash_with_the_overlay() -> None:
    server, session, base, overlay = layers()
    layered = LayeredView(base, Caller("acme", None), overlay=overlay)
    found = layered.get("lookup")
    assert found is not None and found.source == "server"
    assert names(layered.specs()).count("lookup") == 1
    assert [s.source for s in layered.specs() if s.name == "lookup"] == ["server"]
    result = await layered.call("lookup", {"q": 1}, {})
    assert result.structured_content == {"source": "server", "tool": "lookup"}
    assert (len(server.calls), session.calls) == (1, [])


async def test_an_overlay_tool_cannot_replace_a_denied_server_tool() -> None:
    server, session, base, overlay = layers()
    layered = LayeredView(base, Caller("acme", None), overlay=overlay, policy=POLICY)
    assert "fail" not in names(layered.specs())
    assert not layered.is_permitted("fail")
    found = layered.get("fail")
    assert found is not None and found.source == "server"
    with pytest.raises(ToolCallError) as caught:
        await layered.call("fail", {}, {})
    assert caught.value.code is ToolErrorCode.TOOL_NOT_PERMITTED
    assert (server.calls, session.calls) == ([], [])


async def test_overlay_tools_are_seen_and_called_through_the_view() -> None:
    server, session, base, overlay = layers()
    layered = LayeredView(base, Caller("acme", None), overlay=overlay)
    assert layered.is_permitted("notes")
    result = await layered.call("notes", {"a": 1}, {"planexec/run_id": "r"})
    assert result.structured_content == {"source": "session", "tool": "notes"}
    assert (server.calls, session.calls) == ([], [("notes", {"a": 1}, {"planexec/run_id": "r"})])


def test_without_an_overlay_or_policy_the_view_is_the_catalog() -> None:
    _, _, base, _ = layers()
    layered = LayeredView(base, Caller("anyone", "x"))
    assert layered.specs() == base.specs()
    assert all(layered.is_permitted(s.name) for s in base.specs())
    assert layered.get("notes") is None and not layered.is_permitted("notes")


# --- what the caller sees ---------------------------------------------------------------


def test_specs_lists_only_the_permitted_tools_base_first() -> None:
    assert names(view().specs()) == ["echo", "lookup", "notes"]
    assert names(view(Caller("acme", "alice")).specs()) == [
        "echo",
        "ledger_write",
        "lookup",
        "notes",
        "ledger_note",
    ]
    # globex has the default rules: no deny list, the lowest tier
    assert names(view(Caller("globex", None)).specs()) == ["echo", "fail", "lookup", "notes"]


@pytest.mark.parametrize(
    ("who", "name", "permitted"),
    [
        (Caller("acme", None), "echo", True),
        (Caller("acme", None), "notes", True),
        (Caller("acme", None), "fail", False),  # denied by name
        (Caller("acme", None), "ledger_write", False),  # base tool, tier too low
        (Caller("acme", None), "ledger_note", False),  # overlay tool, tier too low
        (Caller("acme", "alice"), "ledger_write", True),
        (Caller("acme", "alice"), "ledger_note", True),
        (Caller("acme", "alice"), "fail", False),
        (Caller("acme", None), "absent", False),
        (Caller("acme", "alice"), "absent", False),
    ],
)
def test_is_permitted_is_false_for_denied_and_absent_tools(who: Caller, name: str, permitted: bool) -> None:
    layered = view(who)
    assert layered.is_permitted(name) is permitted
    assert (name in names(layered.specs())) is permitted


def test_get_returns_a_denied_tool_and_none_for_an_absent_one() -> None:
    layered = view()
    for name in ("fail", "ledger_write", "ledger_note"):
        found = layered.get(name)
        assert found is not None and found.name == name
    assert layered.get("absent") is None


def test_denial_says_why_and_is_none_for_permitted_or_absent_tools() -> None:
    layered = view()
    denied = layered.denial("ledger_note")
    assert denied is not None and (denied.tool, denied.reason) == ("ledger_note", DenialReason.TIER)
    assert layered.denial("fail") is not None
    assert layered.denial("echo") is None and layered.denial("absent") is None


class _DenyingCatalog(Catalog):
    """A layer with its own idea of what the caller may use."""

    def is_permitted(self, name: str) -> bool:
        return name != "echo"


async def test_a_tool_its_own_layer_refuses_is_not_permitted() -> None:
    server = RecordingSource("server", specs_of("server", "echo", "add"))
    layered = LayeredView(_DenyingCatalog([server]), Caller("acme", None))
    assert names(layered.specs()) == ["add"]
    assert not layered.is_permitted("echo") and layered.is_permitted("add")
    with pytest.raises(ToolCallError) as caught:
        await layered.call("echo", {}, {})
    assert caught.value.code is ToolErrorCode.TOOL_NOT_PERMITTED
    assert server.calls == []


def test_trust_and_scopes_apply_to_overlay_tools_as_to_server_tools() -> None:
    base = Catalog([RecordingSource("server", specs_of("server", "s_tool", trust=TrustTier.VERIFIED))])
    overlay = Catalog([RecordingSource("session", specs_of("session", "o_tool", required_scopes=("x",)))])
    policy = Policy.from_data({"tenants": {"acme": {"trust": ["trusted"]}}})
    layered = LayeredView(base, Caller("acme", None), overlay=overlay, policy=policy)
    assert layered.specs() == []
    assert [layered.denial(n).reason for n in ("s_tool", "o_tool")] == [  # type: ignore[union-attr]
        DenialReason.TRUST,
        DenialReason.SCOPE,
    ]
    scoped = LayeredView(base, Caller("acme", None, frozenset({"x"})), overlay=overlay, policy=policy)
    assert names(scoped.specs()) == ["o_tool"]


# --- calls --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "name", "reason"),
    [
        (Caller("acme", None), "fail", DenialReason.NOT_ALLOWED),
        (Caller("acme", None), "ledger_write", DenialReason.TIER),
        (Caller("acme", None), "ledger_note", DenialReason.TIER),
        (Caller("acme", "alice"), "fail", DenialReason.NOT_ALLOWED),
    ],
)
async def test_calling_a_denied_tool_is_tool_not_permitted_with_the_reason(
    who: Caller, name: str, reason: DenialReason
) -> None:
    server, session, base, overlay = layers()
    layered = LayeredView(base, who, overlay=overlay, policy=POLICY)
    with pytest.raises(ToolCallError) as caught:
        await layered.call(name, {}, {})
    error = caught.value
    assert error.code is ToolErrorCode.TOOL_NOT_PERMITTED
    assert error.retryable is False
    assert error.detail["tool"] == name
    assert error.detail["reason"] == reason.value
    assert (server.calls, session.calls) == ([], [])


async def test_calling_an_absent_tool_is_tool_not_permitted_without_a_reason() -> None:
    with pytest.raises(ToolCallError) as caught:
        await view().call("absent", {}, {})
    assert caught.value.code is ToolErrorCode.TOOL_NOT_PERMITTED
    assert caught.value.detail == {"tool": "absent"}


async def test_a_permitted_call_reaches_the_owner_with_arguments_and_meta() -> None:
    server, _, base, overlay = layers()
    layered = LayeredView(base, Caller("acme", "alice"), overlay=overlay, policy=POLICY)
    result = await layered.call("ledger_write", {"k": "v"}, {"planexec/attempt": 2})
    assert result.structured_content == {"source": "server", "tool": "ledger_write"}
    assert server.calls == [("ledger_write", {"k": "v"}, {"planexec/attempt": 2})]


def _counting_source() -> tuple[PythonToolSource, list[int]]:
    calls: list[int] = []

    @tool(annotations=ToolAnnotations(read_only=True), cache_ttl_s=60)
    async def ledger_read(key: str) -> dict[str, Any]:
        calls.append(1)
        return {"key": key, "n": len(calls)}

    return PythonToolSource("server", [ledger_read]), calls


async def test_calls_of_cacheable_tools_go_through_the_cache() -> None:
    source, calls = _counting_source()
    layered = LayeredView(Catalog([source]), Caller("acme", None), cache=ResultCache(MemoryCache()))
    first = await layered.call("ledger_read", {"key": "a"}, {})
    second = await layered.call("ledger_read", {"key": "a"}, {})
    assert len(calls) == 1
    assert first == second and second.structured_content == {"key": "a", "n": 1}
    assert (first.meta, second.meta) == ({"planexec/cache": "miss"}, {"planexec/cache": "hit"})


async def test_a_cached_result_is_not_served_to_a_caller_the_policy_denies() -> None:
    source, calls = _counting_source()
    cache = ResultCache(MemoryCache())
    policy = Policy.from_data(
        {
            "tiers": ["free", "pro"],
            "tools": [{"match": "ledger_*", "tier": "pro"}],
            "tenants": {"acme": {"users": {"alice": "pro"}}},
        }
    )
    catalog = Catalog([source])
    alice = LayeredView(catalog, Caller("acme", "alice"), policy=policy, cache=cache)
    bob = LayeredView(catalog, Caller("acme", "bob"), policy=policy, cache=cache)
    await alice.call("ledger_read", {"key": "a"}, {})
    with pytest.raises(ToolCallError) as caught:
        await bob.call("ledger_read", {"key": "a"}, {})
    assert caught.value.code is ToolErrorCode.TOOL_NOT_PERMITTED
    assert caught.value.detail["reason"] == DenialReason.TIER.value
    assert len(calls) == 1


# --- validation through the view -----------------------------------------------------


def plan(**tools: str) -> dict[str, Any]:
    return {
        "tasks": {
            task: {"tool_name": name, "parameters": {}, "dependencies": []} for task, name in tools.items()
        }
    }


def error_codes(result: Any) -> list[tuple[str, str]]:
    return sorted(((p.code, p.path) for p in result.errors), key=lambda problem: problem[1])


def test_validation_reports_denied_tools_as_not_permitted_and_absent_ones_as_unknown() -> None:
    result = validate_plan(plan(a="fail", b="absent", c="ledger_note", d="echo", e="notes"), view())
    assert not result.valid
    assert error_codes(result) == [
        (ErrorCode.TOOL_NOT_PERMITTED, "/tasks/a/tool_name"),
        (ErrorCode.UNKNOWN_TOOL, "/tasks/b/tool_name"),
        (ErrorCode.TOOL_NOT_PERMITTED, "/tasks/c/tool_name"),
    ]


def test_a_plan_of_permitted_base_and_overlay_tools_is_valid() -> None:
    result = validate_plan(plan(a="echo", b="notes", c="ledger_write"), view(Caller("acme", "alice")))
    assert result.valid, result.errors


def test_the_same_plan_is_valid_for_one_caller_and_not_another() -> None:
    document = plan(a="ledger_write")
    assert validate_plan(document, view(Caller("acme", "alice"))).valid
    result = validate_plan(document, view(Caller("acme", "bob")))
    assert error_codes(result) == [(ErrorCode.TOOL_NOT_PERMITTED, "/tasks/a/tool_name")]


# --- fingerprints ---------------------------------------------------------------------


BASE_SPEC = ToolSpec(
    name="lookup",
    description="Look a key up.",
    input_schema={"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]},
    output_schema={"type": "object"},
    annotations=ToolAnnotations(read_only=True),
    source="server",
)


@pytest.mark.parametrize(
    "change",
    [
        {"name": "lookup2"},
        {"description": "Look a key up and delete it."},
        {"input_schema": {"type": "object", "properties": {"key": {"type": "integer"}}}},
        {"output_schema": None},
        {"output_schema": {"type": "object", "additionalProperties": False}},
        {"annotations": ToolAnnotations(read_only=True, destructive=True)},
        {"annotations": ToolAnnotations()},
        {"source": "evil"},
    ],
)
def test_fingerprint_changes_with_what_a_plan_relies_on(change: dict[str, Any]) -> None:
    assert tool_fingerprint(BASE_SPEC.model_copy(update=change)) != tool_fingerprint(BASE_SPEC)


@pytest.mark.parametrize(
    "change",
    [
        {"timeout_s": 5.0},
        {"cache_ttl_s": 30.0},
        {"trust": TrustTier.UNTRUSTED},
        {"trust": TrustTier.VERIFIED},
        {"max_concurrency": 2},
    ],
)
def test_fingerprint_ignores_what_the_server_may_tune(change: dict[str, Any]) -> None:
    assert tool_fingerprint(BASE_SPEC.model_copy(update=change)) == tool_fingerprint(BASE_SPEC)


def test_fingerprint_is_a_stable_hash_of_the_spec_not_of_its_key_order() -> None:
    reordered = ToolSpec(
        source="server",
        annotations={"read_only": True},
        output_schema={"type": "object"},
        input_schema={"required": ["key"], "properties": {"key": {"type": "string"}}, "type": "object"},
        description="Look a key up.",
        name="lookup",
    )
    assert tool_fingerprint(reordered) == tool_fingerprint(BASE_SPEC)
    fingerprint = tool_fingerprint(BASE_SPEC)
    assert fingerprint.startswith("sha256:") and len(fingerprint) == len("sha256:") + 64


def test_fingerprints_of_named_tools_with_none_for_a_missing_one() -> None:
    _, _, base, overlay = layers()
    layered = LayeredView(base, Caller("acme", None), overlay=overlay)
    got = tool_fingerprints(layered, ["notes", "echo", "gone", "echo"])
    assert list(got) == ["echo", "gone", "notes"]
    assert got["gone"] is None
    assert got["echo"] == tool_fingerprint(ToolSpec(name="echo", source="server"))
    assert got["notes"] == tool_fingerprint(ToolSpec(name="notes", source="session"))
    assert tool_fingerprints(base, []) == {}


def test_fingerprints_show_a_tool_replaced_under_the_same_name() -> None:
    before = tool_fingerprints(Catalog([RecordingSource("s", [BASE_SPEC])]), ["lookup"])
    changed = BASE_SPEC.model_copy(update={"description": "Now also writes."})
    after = tool_fingerprints(Catalog([RecordingSource("s", [changed])]), ["lookup"])
    assert before["lookup"] is not None and after["lookup"] is not None
    assert before != after
