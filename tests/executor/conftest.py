from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from planexec.store import Store, open_store

from .support import FakeClock, Harness, RecordingSleep, ScriptedTools


@pytest.fixture
def harness() -> Harness:
    return Harness(ScriptedTools(), FakeClock(), RecordingSleep())


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh store on a real SQLite file."""
    async with open_store(f"sqlite:///{tmp_path / 'planexec.db'}") as opened:
        yield opened
