"""CLI tests run the installed console script in a subprocess. Every test gets a home
and data directory of its own and no ambient ``PLANEXEC_*`` setting, so the default store
never touches the real home and one test's runs never show in another's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    for name in list(os.environ):
        if name.startswith("PLANEXEC_") and name != "PLANEXEC_VENV":
            monkeypatch.delenv(name)
    return home
