"""Catalog: several tool sources under one name space."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from planexec.registry import (
    Catalog,
    DuplicateToolError,
    PythonToolSource,
    ToolCallError,
    ToolErrorCode,
    ToolResult,
    ToolSource,
    ToolSpec,
    demo_source,
)

pytestmark = pytest.mark.anyio


class RecordingSource:
    """A non-Python source: answers every call with its own name and the call it got."""

    def __init__(self, name: str, tools: list[str]) -> None:
        self.name = name
        self._specs = [ToolSpec(name=t, source=name) for t in tools]
        self.calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    def specs(self) -> list[ToolSpec]:
        return list(self._specs)

    async def call(self, name: str, arguments: Mapping[str, Any], meta: Mapping[str, Any]) -> ToolResult:
        self.calls.append((name, dict(arguments), dict(meta)))
        return ToolResult(structured_content={"source": self.name, "tool": name})


def names(catalog: Catalog) -> list[str]:
    return [s.name for s in catalog.specs()]


def test_recording_source_is_a_tool_source() -> None:
    assert isinstance(RecordingSource("r", []), ToolSource)


def test_catalog_merges_sources_in_order() -> None:
    catalog = Catalog([RecordingSource("one", ["a", "b"]), RecordingSource("two", ["c"])])
    assert names(catalog) == ["a", "b", "c"]
    spec = catalog.get("c")
    assert spec is not None and spec.source == "two"
    assert catalog.get("zzz") is None
    assert catalog.is_permitted("a") and not catalog.is_permitted("zzz")


async def test_call_goes_to_the_owning_source_with_arguments_and_meta() -> None:
    one, two = RecordingSource("one", ["a"]), RecordingSource("two", ["b"])
    catalog = Catalog([one, two])
    result = await catalog.call("b", {"x": 1}, {"planexec/run_id": "r"})
    assert result.structured_content == {"source": "two", "tool": "b"}
    assert (one.calls, two.calls) == ([], [("b", {"x": 1}, {"planexec/run_id": "r"})])


async def test_call_of_an_unknown_tool_is_tool_not_permitted() -> None:
    catalog = Catalog([RecordingSource("one", ["a"])])
    with pytest.raises(ToolCallError) as caught:
        await catalog.call("missing", {}, {})
    assert caught.value.code is ToolErrorCode.TOOL_NOT_PERMITTED
    assert caught.value.retryable is False


def test_duplicate_tool_names_are_refused_atomically() -> None:
    catalog = Catalog([RecordingSource("one", ["a", "b"])])
    before = catalog.specs()
    clashing = RecordingSource("two", ["new1", "b", "new2"])
    with pytest.raises(DuplicateToolError):
        catalog.add_source(clashing)
    assert catalog.specs() == before
    assert catalog.get("new1") is None and catalog.get("new2") is None
    owner = catalog.get("b")
    assert owner is not None and owner.source == "one"
    # nothing of the refused source was kept: its name is still free
    catalog.add_source(RecordingSource("two", ["new1"]))
    assert names(catalog) == ["a", "b", "new1"]


def test_duplicate_source_name_is_refused() -> None:
    catalog = Catalog([RecordingSource("one", ["a"])])
    with pytest.raises(DuplicateToolError):
        catalog.add_source(RecordingSource("one", ["other"]))
    assert names(catalog) == ["a"]


def test_duplicates_in_the_constructor_are_refused() -> None:
    with pytest.raises(DuplicateToolError):
        Catalog([demo_source("d1"), demo_source("d2")])


async def test_remove_source_removes_only_its_tools() -> None:
    catalog = Catalog([RecordingSource("one", ["a", "b"]), RecordingSource("two", ["c"])])
    catalog.remove_source("one")
    assert names(catalog) == ["c"]
    assert catalog.get("a") is None and not catalog.is_permitted("a")
    with pytest.raises(ToolCallError) as caught:
        await catalog.call("a", {}, {})
    assert caught.value.code is ToolErrorCode.TOOL_NOT_PERMITTED
    assert (await catalog.call("c", {}, {})).structured_content == {"source": "two", "tool": "c"}


def test_removed_source_tool_names_can_be_registered_again() -> None:
    catalog = Catalog([RecordingSource("one", ["a"])])
    catalog.remove_source("one")
    catalog.add_source(RecordingSource("again", ["a"]))
    spec = catalog.get("a")
    assert spec is not None and spec.source == "again"


def test_remove_unknown_source_raises_key_error() -> None:
    with pytest.raises(KeyError):
        Catalog().remove_source("nope")


async def test_catalog_over_the_demo_source_calls_python_tools() -> None:
    catalog = Catalog([demo_source()])
    result = await catalog.call("add", {"a": 1, "b": 2}, {})
    assert result.structured_content == {"result": 3}
    with pytest.raises(ToolCallError) as caught:
        await catalog.call("add", {"a": 1}, {})
    assert caught.value.code is ToolErrorCode.INVALID_ARGUMENTS


async def test_prefixed_python_source_sits_beside_the_unprefixed_one() -> None:
    def add(a: int, b: int) -> int:
        return a - b  # a different "add", told apart by its prefix

    catalog = Catalog([demo_source(), PythonToolSource("alias", [add], prefix="alias__")])
    assert (await catalog.call("alias__add", {"a": 5, "b": 2}, {})).structured_content == {"result": 3}
    assert (await catalog.call("add", {"a": 5, "b": 2}, {})).structured_content == {"result": 7}


async def test_a_source_that_changes_its_tools_is_read_again_and_subscribers_told() -> None:
    up, other = RecordingSource("up", ["a", "b"]), RecordingSource("other", ["c"])
    catalog = Catalog([up, other])
    told: list[int] = []

    async def listener() -> None:
        told.append(len(catalog.specs()))

    unsubscribe = catalog.subscribe(listener)
    up._specs = [ToolSpec(name=n, source="up") for n in ("b", "d", "c")]  # drops a, adds d, c is taken
    await catalog.source_changed("up")
    assert sorted(s.name for s in catalog.specs()) == ["b", "c", "d"]
    assert catalog.get("a") is None
    assert (await catalog.call("c", {}, {})).structured_content == {"source": "other", "tool": "c"}
    assert (await catalog.call("d", {}, {})).structured_content == {"source": "up", "tool": "d"}
    assert told == [3]
    unsubscribe()
    await catalog.source_changed("up")
    assert told == [3]
