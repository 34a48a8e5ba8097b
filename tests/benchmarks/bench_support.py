"""How the benchmark smoke tests run a benchmark: ``python -m benchmarks.NAME --quick
--json --output FILE`` from the repository root, as a user would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def quick_command(name: str, output: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", f"benchmarks.{name}", "--quick", "--json", "--output", str(output), *args]


def run_quick(
    name: str, output: Path, *args: str, timeout: float = 50
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the benchmark; (the JSON it printed, the JSON it wrote to ``output``)."""
    done = subprocess.run(
        quick_command(name, output, *args),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), json.loads(output.read_text(encoding="utf-8"))
