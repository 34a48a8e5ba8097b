"""Regenerate the bundled data sets: ``python -m benchmarks.agentic.generate``.

The output is deterministic (seeded); a test checks that the bundled files are what this
writes.
"""

from __future__ import annotations

import json
from typing import Any

from . import _game24, _parallelqa

__all__ = ["main", "render"]


def render(data: dict[str, Any]) -> str:
    """How a data set is written: indented JSON, one trailing newline."""
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def main() -> None:
    for path, data in ((_parallelqa.DATA, _parallelqa.generate()), (_game24.DATA, _game24.generate())):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(data), encoding="utf-8")
        print(f"wrote {path} ({len(data['problems'])} problems)")


if __name__ == "__main__":
    main()
