"""The result cache: what is cached, for how long, for whom; and that a broken cache
never fails a call."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planexec.registry import (
    Caller,
    Catalog,
    LayeredView,
    MemoryCache,
    PythonToolSource,
    ResultCache,
    ToolAnnotations,
    ToolCallError,
    ToolErrorCode,
    ToolResult,
    ToolSpec,
    tool,
)
from planexec.registry._cache import CacheOutcome, cache_key, cacheable

pytestmark = pytest.mark.anyio

HIT = {"planexec/cache": "hit"}
MISS = {"planexec/cache": "miss"}
READ_ONLY = ToolAnnotations(read_only=True)


def cached_spec(name: str = "lookup", ttl: float | None = 60, **fields: Any) -> ToolSpec:
    fields.setdefault("annotations", READ_ONLY)
    return ToolSpec(name=name, cache_ttl_s=ttl, **fields)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingTool:
    """A tool function stand-in: its answer names the tenant, the arguments and a serial
    number, so every result tells who it was made for and when."""

    def __init__(self, spec: ToolSpec | None = None) -> None:
        self.spec = spec or cached_spec()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answers: list[ToolResult] = []

    def call(self, tenant: str, arguments: Mapping[str, Any]) -> Callable[[], Awaitable[ToolResult]]:
        async def call() -> ToolResult:
            self.calls.append((tenant, dict(arguments)))
            if self.answers:
                return self.answers.pop(0)
            body = {"tenant": tenant, "arguments": dict(arguments), "serial": len(self.calls)}
            return ToolResult.from_value(body, body)

        return call

    async def through(self, cache: ResultCache, tenant: str, arguments: Mapping[str, Any]) -> ToolResult:
        return await cache.call(tenant, self.spec, arguments, self.call(tenant, arguments))


# --- what is cached ------------------------------------------------------------------------


async def test_equal_calls_run_the_tool_once_whatever_the_argument_order() -> None:
    counting, cache = CountingTool(), ResultCache(MemoryCache())
    first = await counting.through(cache, "acme", {"a": 1, "b": {"x": 1, "y": 2}})
    second = await counting.through(cache, "acme", {"b": {"y": 2, "x": 1}, "a": 1})
    assert len(counting.calls) == 1
    assert (first.meta, second.meta) == (MISS, HIT)
    assert second == first
    assert second.structured_content == {
        "tenant": "acme",
        "arguments": {"a": 1, "b": {"x": 1, "y": 2}},
        "serial": 1,
    }
    assert second.is_error is False


@pytest.mark.parametrize(
    "annotations", [ToolAnnotations(read_only=True), ToolAnnotations(idempotent=True, destructive=False)]
)
async def test_read_only_and_idempotent_tools_with_a_ttl_are_cached(annotations: ToolAnnotations) -> None:
    counting, cache = CountingTool(cached_spec(annotations=annotations)), ResultCache(MemoryCache())
    results = [await counting.through(cache, "acme", {"q": "x"}) for _ in range(3)]
    assert len(counting.calls) == 1
    assert [r.meta for r in results] == [MISS, HIT, HIT]


@pytest.mark.parametrize(
    "spec",
    [
        cached_spec(annotations=ToolAnnotations()),  # not known to be idempotent
        cached_spec(annotations=ToolAnnotations(destructive=True)),
        cached_spec(annotations=ToolAnnotations(read_only=False, idempotent=False)),
        cached_spec(ttl=None),
        cached_spec(ttl=0),
        cached_spec(ttl=-5),
    ],
    ids=["no-annotations", "destructive", "explicitly-not-idempotent", "no-ttl", "zero-ttl", "negative-ttl"],
)
async def test_tools_that_are_not_idempotent_or_have_no_ttl_are_never_cached(spec: ToolSpec) -> None:
    assert not cacheable(spec)
    backend = MemoryCache()
    counting, cache = CountingTool(spec), ResultCache(backend)
    results = [await counting.through(cache, "acme", {"q": "x"}) for _ in range(3)]
    assert len(counting.calls) == 3
    assert [r.structured_content["serial"] for r in results] == [1, 2, 3]  # type: ignore[index]
    assert all(r.meta is None for r in results)
    assert await backend.get("acme", cache_key(spec, {"q": "x"})) is None


async def test_different_arguments_are_different_entries() -> None:
    counting, cache = CountingTool(), ResultCache(MemoryCache())
    for arguments in ({"a": 1}, {"a": 2}, {"a": "1"}, {"a": 1.5}, {"a": True}, {"a": None}, {"b": 1}, {}):
        result = await counting.through(cache, "acme", arguments)
        assert result.meta == MISS
    assert len(counting.calls) == 8


async def test_a_different_tool_or_source_is_a_different_entry() -> None:
    cache = ResultCache(MemoryCache())
    for spec in (cached_spec("a"), cached_spec("b"), cached_spec("a", source="other")):
        counting = CountingTool(spec)
        assert (await counting.through(cache, "acme", {"x": 1})).meta == MISS
        assert (await counting.through(cache, "acme", {"x": 1})).meta == HIT


async def test_error_results_are_not_cached() -> None:
    counting, cache = CountingTool(), ResultCache(MemoryCache())
    failure = ToolResult(
        content=[{"type": "text", "text": "busy"}],
        structured_content={"code": "tool_error", "message": "busy", "retryable": True},
        is_error=True,
    )
    counting.answers = [failure, failure]
    first = await counting.through(cache, "acme", {"q": 1})
    second = await counting.through(cache, "acme", {"q": 1})
    assert (first.is_error, second.is_error) == (True, True)
    assert (first.meta, second.meta) == (None, None)
    third = await counting.through(cache, "acme", {"q": 1})
    fourth = await counting.through(cache, "acme", {"q": 1})
    assert (third.is_error, third.meta, fourth.meta) == (False, MISS, HIT)
    assert len(counting.calls) == 3


async def test_a_call_that_raises_propagates_and_is_not_cached() -> None:
    cache, spec, calls = ResultCache(MemoryCache()), cached_spec(), []

    async def refused() -> ToolResult:
        calls.append(1)
        raise ToolCallError(ToolErrorCode.TRANSPORT_ERROR, "gone", retryable=True)

    for _ in range(2):
        with pytest.raises(ToolCallError) as caught:
            await cache.call("acme", spec, {}, refused)
        assert caught.value.code is ToolErrorCode.TRANSPORT_ERROR
    assert len(calls) == 2


@pytest.mark.parametrize(
    "result",
    [
        ToolResult.from_value(
            {"name": "Zoë", "list": [1, 2.5, None, True]}, {"name": "Zoë", "list": [1, 2.5, None, True]}
        ),
        ToolResult.from_value("just text ✓", {"result": "just text ✓"}),
        ToolResult(
            content=[
                {"type": "text", "text": "a"},
                {"type": "image", "data": "AA==", "mimeType": "image/png"},
            ]
        ),
        ToolResult(content=[], structured_content={}),
    ],
    ids=["structured", "text", "content-only", "empty"],
)
async def test_a_hit_gives_back_exactly_what_the_tool_answered(result: ToolResult) -> None:
    counting, cache = CountingTool(), ResultCache(MemoryCache())
    counting.answers = [result]
    miss = await counting.through(cache, "acme", {})
    hit = await counting.through(cache, "acme", {})
    assert (miss.meta, hit.meta) == (MISS, HIT)
    assert (hit.content, hit.structured_content, hit.is_error) == (
        result.content,
        result.structured_content,
        False,
    )


async def test_hits_are_independent_copies() -> None:
    counting, cache = CountingTool(), ResultCache(MemoryCache())
    await counting.through(cache, "acme", {})
    hit = await counting.through(cache, "acme", {})
    hit.structured_content["serial"] = 99  # type: ignore[index]
    hit.content.clear()
    again = await counting.through(cache, "acme", {})
    assert again.structured_content["serial"] == 1  # type: ignore[index]
    assert again.content != []


def test_cache_outcomes_have_stable_values() -> None:
    assert (CacheOutcome.HIT.value, CacheOutcome.MISS.value) == ("hit", "miss")


def test_cache_key_is_canonical_in_the_arguments() -> None:
    spec = cached_spec()
    assert cache_key(spec, {"a": 1, "b": [1, {"d": 2, "c": 3}]}) == cache_key(
        spec, {"b": [1, {"c": 3, "d": 2}], "a": 1}
    )
    assert cache_key(spec, {"a": [1, 2]}) != cache_key(spec, {"a": [2, 1]})
    assert cache_key(spec, {"a": 1}) != cache_key(cached_spec("other"), {"a": 1})
    assert cache_key(spec, {"a": 1}) != cache_key(cached_spec(source="other"), {"a": 1})


# --- how long -----------------------------------------------------------------------------


async def test_an_entry_lives_for_the_tools_ttl() -> None:
    clock = Clock()
    counting, cache = CountingTool(cached_spec(ttl=10)), ResultCache(MemoryCache(clock=clock))
    assert (await counting.through(cache, "acme", {})).meta == MISS
    clock.now += 9.999
    assert (await counting.through(cache, "acme", {})).meta == HIT
    clock.now += 0.001
    expired = await counting.through(cache, "acme", {})
    assert expired.meta == MISS and expired.structured_content["serial"] == 2  # type: ignore[index]
    clock.now += 5
    assert (await counting.through(cache, "acme", {})).meta == HIT  # the new entry's own TTL
    assert len(counting.calls) == 2


async def test_a_hit_does_not_extend_the_ttl() -> None:
    clock = Clock()
    counting, cache = CountingTool(cached_spec(ttl=10)), ResultCache(MemoryCache(clock=clock))
    await counting.through(cache, "acme", {})
    for _ in range(3):
        clock.now += 3
        assert (await counting.through(cache, "acme", {})).meta == HIT
    clock.now += 1  # 10 s after the miss
    assert (await counting.through(cache, "acme", {})).meta == MISS


async def test_memory_cache_entries_expire_with_the_injected_clock() -> None:
    clock = Clock()
    backend = MemoryCache(clock=clock)
    await backend.set("acme", "k", b"v", 1.5)
    assert await backend.get("acme", "k") == b"v"
    clock.now += 1.5
    assert await backend.get("acme", "k") is None
    clock.now -= 1.5  # an expired entry is dropped when read, not hidden
    assert await backend.get("acme", "k") is None


# --- how many -----------------------------------------------------------------------------


async def test_memory_cache_evicts_the_least_recently_used_entry() -> None:
    backend = MemoryCache(max_entries=2)
    await backend.set("acme", "one", b"1", 60)
    await backend.set("acme", "two", b"2", 60)
    assert await backend.get("acme", "one") == b"1"  # "two" is now the least recently used
    await backend.set("acme", "three", b"3", 60)
    assert [await backend.get("acme", k) for k in ("one", "two", "three")] == [b"1", None, b"3"]


async def test_overwriting_an_entry_does_not_evict_another() -> None:
    backend = MemoryCache(max_entries=2)
    await backend.set("acme", "one", b"1", 60)
    await backend.set("acme", "two", b"2", 60)
    await backend.set("acme", "one", b"1'", 60)
    assert [await backend.get("acme", k) for k in ("one", "two")] == [b"1'", b"2"]


async def test_the_bound_counts_every_tenants_entries() -> None:
    backend = MemoryCache(max_entries=3)
    for tenant in ("a", "b"):
        for key in ("k1", "k2"):
            await backend.set(tenant, key, tenant.encode(), 60)
    got = {(t, k): await backend.get(t, k) for t in ("a", "b") for k in ("k1", "k2")}
    assert got == {("a", "k1"): None, ("a", "k2"): b"a", ("b", "k1"): b"b", ("b", "k2"): b"b"}


async def test_a_bounded_cache_calls_again_for_an_evicted_result() -> None:
    counting, cache = CountingTool(), ResultCache(MemoryCache(max_entries=2))
    for q in (1, 2, 1, 3):  # 1 is used again, so 2 goes when 3 comes
        await counting.through(cache, "acme", {"q": q})
    assert (await counting.through(cache, "acme", {"q": 1})).meta == HIT
    assert (await counting.through(cache, "acme", {"q": 3})).meta == HIT
    assert (await counting.through(cache, "acme", {"q": 2})).meta == MISS
    assert [arguments["q"] for _, arguments in counting.calls] == [1, 2, 3, 2]


# --- for whom -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"), [("acme", "globex"), ("acme", "acme:eu"), ("t", "t}"), ("{a}", "a"), ("", " ")]
)
async def test_one_tenants_result_is_never_returned_to_another(a: str, b: str) -> None:
    counting, cache = CountingTool(), ResultCache(MemoryCache())
    first_a = await counting.through(cache, a, {"q": 1})
    first_b = await counting.through(cache, b, {"q": 1})
    assert counting.calls == [(a, {"q": 1}), (b, {"q": 1})]
    assert (first_a.meta, first_b.meta) == (MISS, MISS)
    assert first_b.structured_content["tenant"] == b  # type: ignore[index]
    again_a, again_b = await counting.through(cache, a, {"q": 1}), await counting.through(cache, b, {"q": 1})
    assert (again_a.meta, again_b.meta) == (HIT, HIT)
    assert [r.structured_content["tenant"] for r in (again_a, again_b)] == [a, b]  # type: ignore[index]
    assert len(counting.calls) == 2


async def test_memory_cache_keeps_tenants_apart() -> None:
    backend = MemoryCache()
    await backend.set("acme", "k", b"acme's", 60)
    assert await backend.get("globex", "k") is None
    await backend.set("globex", "k", b"globex's", 60)
    assert (await backend.get("acme", "k"), await backend.get("globex", "k")) == (b"acme's", b"globex's")


async def test_a_tenants_cached_result_is_not_returned_through_another_tenants_view() -> None:
    calls: list[str] = []

    @tool(annotations=READ_ONLY, cache_ttl_s=60)
    async def whoami(label: str) -> dict[str, Any]:
        calls.append(label)
        return {"label": label, "call": len(calls)}

    catalog, cache = Catalog([PythonToolSource("server", [whoami])]), ResultCache(MemoryCache())
    acme = LayeredView(catalog, Caller("acme", "alice"), cache=cache)
    globex = LayeredView(catalog, Caller("globex", "alice"), cache=cache)
    assert (await acme.call("whoami", {"label": "x"}, {})).structured_content == {"label": "x", "call": 1}
    from_globex = await globex.call("whoami", {"label": "x"}, {})
    assert (from_globex.structured_content, from_globex.meta) == ({"label": "x", "call": 2}, MISS)
    assert (await acme.call("whoami", {"label": "x"}, {})).meta == HIT
    assert calls == ["x", "x"]


# --- a broken cache ------------------------------------------------------------------------


class BrokenBackend:
    def __init__(
        self, *, get_fails: bool = True, set_fails: bool = True, stored: bytes | None = None
    ) -> None:
        self.get_fails, self.set_fails, self.stored = get_fails, set_fails, stored
        self.sets: list[tuple[str, str, bytes, float]] = []

    async def get(self, tenant: str, key: str) -> bytes | None:
        if self.get_fails:
            raise ConnectionError("cache down")
        return self.stored

    async def set(self, tenant: str, key: str, value: bytes, ttl_s: float) -> None:
        if self.set_fails:
            raise ConnectionError("cache down")
        self.sets.append((tenant, key, value, ttl_s))


@pytest.mark.parametrize(
    ("get_fails", "set_fails"), [(True, True), (True, False), (False, True)], ids=["both", "get", "set"]
)
async def test_a_failing_backend_makes_calls_uncached_not_failed(
    get_fails: bool, set_fails: bool, caplog: pytest.LogCaptureFixture
) -> None:
    counting = CountingTool()
    cache = ResultCache(BrokenBackend(get_fails=get_fails, set_fails=set_fails))
    with caplog.at_level(logging.WARNING, logger="planexec.registry._cache"):
        results = [await counting.through(cache, "acme", {"q": 1}) for _ in range(2)]
    assert len(counting.calls) == 2
    assert [r.structured_content["serial"] for r in results] == [1, 2]  # type: ignore[index]
    assert all(r.is_error is False and r.meta == MISS for r in results)
    assert {record.levelno for record in caplog.records} == {logging.WARNING}


async def test_a_backend_that_cannot_be_read_is_still_written_with_the_ttl() -> None:
    backend = BrokenBackend(get_fails=True, set_fails=False)
    counting = CountingTool(cached_spec(ttl=7))
    await counting.through(ResultCache(backend), "acme", {"q": 1})
    assert [(tenant, key, ttl) for tenant, key, _, ttl in backend.sets] == [
        ("acme", cache_key(counting.spec, {"q": 1}), 7.0)
    ]


CORRUPT = [
    b"",
    b"not json",
    b"\xff\xfe\x00\x80",
    b'{"content": [',
    b"null",
    b"[1, 2]",
    b'"a string"',
    b'{"content": []}',
    b'{"structured_content": {}}',
    b'{"content": "abc", "structured_content": null}',
    b'{"content": [1, 2], "structured_content": null}',
    b'{"content": {"type": "text"}, "structured_content": null}',
    b'{"content": [], "structured_content": [1]}',
    b'{"content": [], "structured_content": "x"}',
]


@pytest.mark.parametrize("stored", CORRUPT)
async def test_corrupt_stored_bytes_are_a_miss(stored: bytes) -> None:
    backend = BrokenBackend(get_fails=False, set_fails=False, stored=stored)
    counting = CountingTool()
    result = await counting.through(ResultCache(backend), "acme", {"q": 1})
    assert len(counting.calls) == 1
    assert result.meta == MISS
    assert result.structured_content == {"tenant": "acme", "arguments": {"q": 1}, "serial": 1}
    assert len(backend.sets) == 1  # the good result replaces the corrupt one


async def test_a_corrupt_entry_is_replaced_by_the_next_good_result() -> None:
    backend, counting = MemoryCache(), CountingTool()
    await backend.set("acme", cache_key(counting.spec, {"q": 1}), b"\x00garbage", 60)
    cache = ResultCache(backend)
    assert (await counting.through(cache, "acme", {"q": 1})).meta == MISS
    assert (await counting.through(cache, "acme", {"q": 1})).meta == HIT
    assert len(counting.calls) == 1


# --- property: tenants never see each other's results --------------------------------------

TENANT_PAIRS = [("acme", "globex"), ("acme", "acme:eu"), ("t", "t}"), ("{a}", "a"), ("a/b", "a")]
ARGUMENTS = st.fixed_dictionaries({}, optional={"x": st.integers(0, 2), "y": st.sampled_from(["a", "b"])})
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("call"), st.sampled_from([0, 1]), ARGUMENTS),
        st.tuples(st.just("read"), st.sampled_from([0, 1]), ARGUMENTS),
        st.tuples(st.just("tick"), st.sampled_from([0.5, 5.0, 20.0]), st.just({})),
    ),
    max_size=40,
)


class TenantEchoSource:
    """One cached tool whose answer names the tenant the executor called it for (passed
    in ``_meta`` by the test) and a serial number."""

    name = "server"

    def __init__(self) -> None:
        self.serial = 0
        self.spec = cached_spec("echo_tenant", ttl=10, source=self.name)

    def specs(self) -> list[ToolSpec]:
        return [self.spec]

    async def call(self, name: str, arguments: Mapping[str, Any], meta: Mapping[str, Any]) -> ToolResult:
        self.serial += 1
        body = {"tenant": meta["test/tenant"], "arguments": dict(arguments), "serial": self.serial}
        return ToolResult.from_value(body, body)


@settings(max_examples=150, deadline=None)
@given(pair=st.sampled_from(TENANT_PAIRS), operations=OPERATIONS, max_entries=st.sampled_from([1, 3, 100]))
def test_random_interleavings_never_return_another_tenants_result(
    pair: tuple[str, str], operations: list[tuple[str, Any, dict[str, Any]]], max_entries: int
) -> None:
    async def scenario() -> None:
        clock = Clock()
        source = TenantEchoSource()
        backend = MemoryCache(max_entries=max_entries, clock=clock)
        cache = ResultCache(backend)
        catalog = Catalog([source])
        views = [LayeredView(catalog, Caller(tenant, None), cache=cache) for tenant in pair]
        latest: dict[tuple[str, str], int] = {}  # (tenant, key) -> serial of the last miss
        for kind, what, arguments in operations:
            if kind == "tick":
                clock.now += what
                continue
            tenant = pair[what]
            key = cache_key(source.spec, arguments)
            if kind == "call":
                result = await views[what].call("echo_tenant", arguments, {"test/tenant": tenant})
                body = result.structured_content
                assert body is not None and body["tenant"] == tenant and body["arguments"] == arguments
                if result.meta == MISS:
                    latest[tenant, key] = body["serial"]
                else:
                    assert result.meta == HIT
                    assert body["serial"] == latest[tenant, key]  # the last result made for this tenant
            else:
                stored = await backend.get(tenant, key)
                if stored is not None:
                    hit = await cache.call(tenant, source.spec, arguments, _never)
                    assert hit.structured_content is not None
                    assert hit.structured_content["tenant"] == tenant
                    assert hit.structured_content["serial"] == latest[tenant, key]

    anyio.run(scenario)


async def _never() -> ToolResult:
    raise AssertionError("a stored entry must be a hit")
