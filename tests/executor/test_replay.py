"""Replay of stored runs (DESIGN §5): recorded replays are identical, divergences are found."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from planexec.executor import replay_run
from planexec.registry import ToolResult, ToolSpec
from planexec.store import Store

from .replay_corpus import CORPUS, TENANT, record_run

pytestmark = pytest.mark.anyio


class NoCalls:
    """A tool view with the corpus tools' specs that fails the test if a tool is called."""

    def __init__(self, tools: Any) -> None:
        self._tools = tools

    def get(self, name: str) -> ToolSpec | None:
        spec: ToolSpec | None = self._tools.get(name)
        return spec

    def is_permitted(self, name: str) -> bool:
        return True

    def specs(self) -> list[ToolSpec]:
        specs: list[ToolSpec] = self._tools.specs()
        return specs

    async def call(self, name: str, arguments: Mapping[str, Any], meta: Mapping[str, Any]) -> ToolResult:
        pytest.fail(f"a recorded replay called {name}")


@pytest.mark.parametrize("name", list(CORPUS))
async def test_every_corpus_run_replays_identically(store: Store, name: str) -> None:
    scenario = CORPUS[name]()
    record = await record_run(store, scenario)
    result = await replay_run(store, TENANT, record.run_id, tools=NoCalls(scenario.tools))
    assert result.divergence is None
    assert result.identical
    assert (result.status, result.output) == (record.status.value, record.model_dump(mode="json")["output"])
    assert result.replay_of == record.run_id and result.run_id != record.run_id
