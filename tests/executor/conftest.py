from __future__ import annotations

import pytest

from .support import FakeClock, Harness, RecordingSleep, ScriptedTools


@pytest.fixture
def harness() -> Harness:
    return Harness(ScriptedTools(), FakeClock(), RecordingSleep())
