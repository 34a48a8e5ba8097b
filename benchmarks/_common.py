"""What the benchmarks share: the environment snapshot, the timer, the JSON writer and
the command line."""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[1]
T = TypeVar("T")


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


async def timed(run: Callable[[], Awaitable[T]]) -> tuple[float, float, T]:
    """(wall seconds, CPU seconds, result) of one run.

    The heap built before the run (DAGs, plans, compiled graphs) is frozen, so the
    garbage collector scans only what the run itself allocates: a large graph alive in
    the process does not slow the measured system down.
    """
    gc.collect()
    gc.freeze()
    try:
        cpu = time.process_time()
        start = time.perf_counter()
        result = await run()
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu
    finally:
        gc.unfreeze()
    return wall, cpu, result


def write_json(result: dict[str, Any], path: Path) -> None:
    """Write atomically: a reader never sees half a result file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def main(
    argv: list[str] | None,
    *,
    name: str,
    description: str | None,
    quick_help: str,
    seed_help: str,
    benchmark: Callable[..., dict[str, Any]],
    render: Callable[[dict[str, Any]], None],
) -> int:
    """The command line every benchmark shares: ``--quick``, ``--json``, ``--output``,
    ``--seed``. A quick run writes nothing unless ``--output`` is given, so a smoke test
    never overwrites the recorded results."""
    default_output = REPO / "benchmarks" / "results" / f"{name}.json"
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{name}", description=description)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help=f"where to write the JSON (default benchmarks/results/{name}.json; "
        "with --quick nothing is written unless --output is given)",
    )
    parser.add_argument("--seed", type=int, default=1, help=seed_help)
    args = parser.parse_args(argv)

    result = benchmark(quick=args.quick, seed=args.seed, progress=not args.json)
    output = args.output if args.output is not None else (None if args.quick else default_output)
    if output is not None:
        write_json(result, output)
    if args.json:
        json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        render(result)
        if output is not None:
            print(f"wrote {output}")
    return 0
