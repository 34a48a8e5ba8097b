"""Round-trip latency of the MCP server over streamable HTTP on loopback.

    python -m benchmarks.server_latency [--quick] [--calls N] [--json] [--output PATH]

``planexec serve --transport http --insecure-no-auth`` runs in a process of its own (a
fresh SQLite store); the SDK's ``Client`` times, in each protocol era (``legacy``: an
initialized session; ``modern``: 2026-07-28, one POST per request):

- ``bare_tool``: ``echo {"value": 1}``, a demo tool called directly: the floor of one MCP
  round trip on this server (HTTP, JSON-RPC, the SDK on both ends);
- ``validate_plan``: a three-task plan with references;
- ``execute_plan``: a one-task plan, ``wait=true``: validation, the plan stored, the run
  executed and its record and events stored, the record returned.

The three calls are interleaved, after warm-up calls; each is timed from the client's
``call_tool`` to its result. Reported per call: p50, p90, p99, mean, min and max in ms,
and p50 over ``bare_tool``'s p50. The full run writes ``benchmarks/results/
server_latency.json``; ``--quick`` writes only with ``--output``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream
from mcp import Client

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "server_latency.json"
PLANEXEC = shutil.which("planexec", path=str(Path(sys.executable).parent)) or "planexec"
ERAS = {"legacy": "legacy", "modern": "auto"}
VALIDATE = {
    "inputs": {"x": 2},
    "tasks": {
        "sum": {"tool_name": "add", "parameters": {"a": "$<inputs.x>", "b": 3}, "dependencies": []},
        "double": {
            "tool_name": "multiply",
            "parameters": {"a": "$<sum.output.result>", "b": 2},
            "dependencies": [],
        },
        "say": {
            "tool_name": "concat",
            "parameters": {"parts": ["got ", "$<double.output.result>"]},
            "dependencies": [],
        },
    },
}
EXECUTE = {"tasks": {"only": {"tool_name": "echo", "parameters": {"value": 1}, "dependencies": []}}}
CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "bare_tool": ("echo", {"value": 1}),
    "validate_plan": ("validate_plan", {"plan": VALIDATE}),
    "execute_plan": ("execute_plan", {"plan": EXECUTE}),
}


async def _start_server(store: Path) -> tuple[Process, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANEXEC_")}
    command = [PLANEXEC, "serve", "--transport", "http", "--port", "0", "--insecure-no-auth"]
    process = await anyio.open_process(
        [*command, "--store", f"sqlite:///{store}"], env=env, stdin=subprocess.DEVNULL
    )
    assert process.stderr is not None
    seen = ""
    with anyio.fail_after(30):
        async for chunk in TextReceiveStream(process.stderr):
            seen += chunk
            if found := re.search(r"serving MCP on (http://\S+/mcp)", seen):
                return process, found[1]
    raise SystemExit(f"the server did not start: {seen}")


def _summary(samples: list[float]) -> dict[str, float | int]:
    ms = sorted(s * 1000 for s in samples)
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "n": len(ms),
        "p50": statistics.median(ms),
        "p90": cuts[89],
        "p99": cuts[98],
        "mean": statistics.fmean(ms),
        "min": ms[0],
        "max": ms[-1],
    }


async def _measure(url: str, mode: str, calls: int, warmup: int) -> dict[str, Any]:
    samples: dict[str, list[float]] = {name: [] for name in CALLS}
    async with Client(url, mode=mode, read_timeout_seconds=30) as client:

        async def call(name: str) -> float:
            tool, arguments = CALLS[name]
            started = time.perf_counter()
            result = await client.call_tool(tool, arguments)
            elapsed = time.perf_counter() - started
            if result.is_error:
                raise SystemExit(f"{name} failed: {result.structured_content}")
            return elapsed

        for _ in range(warmup):
            for name in CALLS:
                await call(name)
        for _ in range(calls):
            for name in CALLS:
                samples[name].append(await call(name))
    rows: dict[str, Any] = {name: _summary(values) for name, values in samples.items()}
    floor = rows["bare_tool"]["p50"]
    for row in rows.values():
        row["p50_over_bare_tool"] = row["p50"] / floor
    return rows


async def _run(calls: int, warmup: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        process, url = await _start_server(Path(scratch) / "bench.db")
        try:
            results = {era: await _measure(url, mode, calls, warmup) for era, mode in ERAS.items()}
        finally:
            process.terminate()
            with anyio.fail_after(20):
                await process.wait()
            await process.aclose()
    return results


def _environment() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "git_commit": commit or None,
        "versions": {name: version(name) for name in ("planexec", "mcp", "anyio", "uvicorn", "starlette")},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.server_latency", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="a smoke test: 20 calls of each kind per era")
    parser.add_argument(
        "--calls", type=int, default=None, help="timed calls of each kind per era (default 500)"
    )
    parser.add_argument("--json", action="store_true", help="print only the JSON")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    calls = args.calls or (20 if args.quick else 500)
    warmup = 3 if args.quick else 30
    started = time.perf_counter()
    results = anyio.run(_run, calls, warmup)
    report = {
        "benchmark": "server_latency",
        "schema_version": 1,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - started, 1),
        "environment": _environment(),
        "config": {"quick": args.quick, "calls": calls, "warmup": warmup, "transport": "streamable-http"},
        "unit": "ms",
        "eras": results,
    }
    output = args.output or (None if args.quick else DEFAULT_OUTPUT)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {output}", file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{'era':<8} {'call':<15} {'p50':>7} {'p90':>7} {'p99':>7} {'mean':>7} {'÷ bare p50':>11}  (ms)")
    for era, rows in results.items():
        for name, row in rows.items():
            print(
                f"{era:<8} {name:<15} {row['p50']:>7.2f} {row['p90']:>7.2f} {row['p99']:>7.2f} "
                f"{row['mean']:>7.2f} {row['p50_over_bare_tool']:>10.2f}x"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
