"""What every benchmark records about the machine and the code that ran."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout


def environment(*, engine_paths: Sequence[str], distributions: Sequence[str]) -> dict[str, Any]:
    """Python, platform, CPUs, the git commit, and which of ``engine_paths`` had
    uncommitted changes (then the commit alone does not pin what ran)."""
    commit = _git("rev-parse", "HEAD").strip()
    dirty = _git("status", "--porcelain", "--", *engine_paths)
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "event_loop": "asyncio",
        "git_commit": commit or None,
        "engine_uncommitted_changes": sorted(line[3:] for line in dirty.splitlines()) if commit else None,
        "versions": {d: _version(d) for d in ("planexec", *distributions)},
    }
