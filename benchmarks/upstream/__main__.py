"""Latency of an upstream MCP tool through McpToolSource, beside the SDK Client alone.

    python -m benchmarks.upstream [--quick] [--json] [--output PATH]

One ``planexec serve --tools demo`` upstream per transport (streamable HTTP on loopback,
a stdio subprocess), each in both client eras (``legacy``: initialize, a session;
``modern``: 2026-07-28). Per case: the time to enter the source (connect and list the
tools), then interleaved calls of ``add {"a": 1, "b": 2}`` through a bare SDK ``Client``
(``direct``) and through ``McpToolSource.call("up__add", ...)`` with the executor's
``_meta`` (``source``), each on its own connection to the same upstream, after warm-up
calls. Reported in ms: p50, p90, p99, mean; and ``source`` p50 over ``direct`` p50.
The full run writes ``benchmarks/results/upstream.json``; ``--quick`` only with
``--output``.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from anyio.streams.text import TextReceiveStream
from mcp import Client, StdioServerParameters

from planexec.registry import McpToolSource

from .._common import environment, main

PLANEXEC = shutil.which("planexec", path=str(Path(sys.executable).parent)) or "planexec"
ERAS = {"legacy": "legacy", "modern": "auto"}
META = {
    "planexec/run_id": "bench",
    "planexec/task_id": "add",
    "planexec/attempt": 1,
    "planexec/idempotency_key": "bench:add",
}


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PLANEXEC_")}


def _summary(samples: list[float]) -> dict[str, float | int]:
    ms = sorted(s * 1000 for s in samples)
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    p50, mean = statistics.median(ms), statistics.fmean(ms)
    return {"n": len(ms), "p50": p50, "p90": cuts[89], "p99": cuts[98], "mean": mean}


async def _case(endpoint: str | StdioServerParameters, mode: str, calls: int, warmup: int) -> dict[str, Any]:
    started = time.perf_counter()
    async with McpToolSource("up", endpoint, mode=mode) as source:  # type: ignore[arg-type]
        connect_ms = (time.perf_counter() - started) * 1000
        async with Client(endpoint, mode=mode) as client:
            samples: dict[str, list[float]] = {"direct": [], "source": []}
            for n in range(warmup + calls):
                t0 = time.perf_counter()
                await client.call_tool("add", {"a": 1, "b": 2})
                t1 = time.perf_counter()
                result = await source.call("up__add", {"a": 1, "b": 2}, META)
                t2 = time.perf_counter()
                if result.structured_content != {"result": 3}:
                    raise SystemExit(f"unexpected result {result!r}")
                if n >= warmup:
                    samples["direct"].append(t1 - t0)
                    samples["source"].append(t2 - t1)
    rows: dict[str, Any] = {name: _summary(values) for name, values in samples.items()}
    return {
        "connect_ms": connect_ms,
        **rows,
        "source_p50_over_direct_p50": rows["source"]["p50"] / rows["direct"]["p50"],
    }


async def _run(calls: int, warmup: int, scratch: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    command = [PLANEXEC, "serve", "--transport", "http", "--port", "0", "--insecure-no-auth"]
    command += ["--tools", "demo"]
    process = await anyio.open_process(
        [*command, "--store", f"sqlite:///{scratch / 'http.db'}"], env=_env(), stdin=subprocess.DEVNULL
    )
    try:
        assert process.stderr is not None
        seen = ""
        with anyio.fail_after(60):
            async for chunk in TextReceiveStream(process.stderr):
                seen += chunk
                if found := re.search(r"serving MCP on (http://\S+/mcp)", seen):
                    break
            else:
                raise SystemExit(f"the upstream did not start: {seen}")
        async with anyio.create_task_group() as drain:  # a full stderr pipe would stall it

            async def _drain() -> None:
                async for _ in TextReceiveStream(process.stderr):  # type: ignore[arg-type]
                    pass

            drain.start_soon(_drain)
            for era, mode in ERAS.items():
                results[f"http-{era}"] = await _case(found[1], mode, calls, warmup)
            drain.cancel_scope.cancel()
    finally:
        process.terminate()
        with anyio.fail_after(20):
            await process.wait()
        await process.aclose()
    stdio = StdioServerParameters(
        command=PLANEXEC,
        args=["serve", "--transport", "stdio", "--tools", "demo", "--store", f"sqlite:///{scratch / 's.db'}"],
        env=_env(),
    )
    for era, mode in ERAS.items():
        results[f"stdio-{era}"] = await _case(stdio, mode, calls, warmup)
    return results


def benchmark(*, quick: bool, seed: int, progress: bool) -> dict[str, Any]:
    calls, warmup = (20, 3) if quick else (500, 30)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        cases = anyio.run(_run, calls, warmup, Path(scratch))
    return {
        "benchmark": "upstream",
        "schema_version": 1,
        "duration_s": round(time.perf_counter() - started, 1),
        "environment": environment(engine_paths=["registry"], distributions=["mcp", "anyio"]),
        "config": {"quick": quick, "calls": calls, "warmup": warmup, "tool": "add"},
        "unit": "ms",
        "cases": cases,
    }


def render(result: dict[str, Any]) -> None:
    print(f"{'case':<14} {'connect':>8} {'call':<7} {'p50':>7} {'p90':>7} {'p99':>7} {'mean':>7}  (ms)")
    for case, row in result["cases"].items():
        for call in ("direct", "source"):
            connect = f"{row['connect_ms']:.0f}" if call == "direct" else ""
            r = row[call]
            print(
                f"{case:<14} {connect:>8} {call:<7} {r['p50']:>7.2f} {r['p90']:>7.2f} {r['p99']:>7.2f} "
                f"{r['mean']:>7.2f}"
            )
        print(f"{'':<14} {'':>8} source p50 ÷ direct p50: {row['source_p50_over_direct_p50']:.2f}x")


if __name__ == "__main__":
    raise SystemExit(
        main(
            None,
            name="upstream",
            description=__doc__.split("\n")[0],
            quick_help="a smoke test: 20 calls per case",
            seed_help="unused (the benchmark is deterministic)",
            benchmark=benchmark,
            render=render,
        )
    )
