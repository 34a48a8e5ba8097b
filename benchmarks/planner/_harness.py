"""How often the planner gets a valid plan, after how many repairs, at what token cost.

Offline (the default): ``pairs.json`` holds recorded (goal, answers) pairs over the demo
tools — what a model plausibly wrote in the first round and in answer to each repair
request: plans valid at once, plans in code fences or prose, plans with one or two
rounds of mistakes (unknown tools, cycles, bad references, bad arguments, truncated JSON,
a dependency on a handler), and goals no demo tool can reach. A recorded model answers
from that list through the real :class:`~planexec.planner.Planner` (prompt, extraction,
validation, repair messages, ``max_repairs=2``), so every number below is the planner's
own behaviour on those answers. Token counts offline are estimates (characters / 4) of
the messages the planner really sent and the recorded answers; ``planner_ms`` is the
planner's own time per goal (prompt, extraction, validation — the model answers at once).

Live (``--llm MODEL [--api-base URL]``): the same goals go to any litellm model through
:class:`~planexec.planner.LiteLLMClient`; the recorded answers are ignored, token counts
are the provider's, and the time includes the model's.

Reported: parse rate (answers holding a JSON object, all rounds and first round), the
share of goals with a valid plan after round 0 (no repair), 1 and 2, tokens per goal, and
per goal its rounds and the error codes of each round.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from planexec.planner import (
    LLM,
    PROMPT_VERSION,
    Completion,
    LiteLLMClient,
    LLMError,
    Message,
    Planner,
    PlanningFailed,
    PlanningRound,
)
from planexec.registry import Catalog, demo_source

from .._common import environment as shared_environment

SCHEMA_VERSION = 1
PAIRS = Path(__file__).with_name("pairs.json")
MAX_REPAIRS = 2
QUICK_IDS = (
    "add-two",
    "parallel-products",
    "prose-read-ledger",
    "handler-fallback",
    "cycle",
    "truncated-json",
    "tool-then-arguments",
    "no-email-tool",
)


@dataclass(frozen=True)
class Config:
    quick: bool
    mode: str
    model: str
    api_base: str | None
    max_repairs: int
    goals: int
    prompt_version: str


class RecordedLLM:
    """Answers one goal's recorded answers in order; tokens estimated as chars / 4."""

    model = "recorded"

    def __init__(self, answers: Sequence[str]) -> None:
        self.answers = list(answers)
        self.asked = 0

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        response_format: Mapping[str, Any] | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        if self.asked >= len(self.answers):
            raise LLMError("llm_refused", f"no recorded answer for round {self.asked}")
        text = self.answers[self.asked]
        self.asked += 1
        prompt_chars = sum(len(m["content"]) for m in messages)
        return Completion(
            text=text,
            model=self.model,
            prompt_tokens=(prompt_chars + 3) // 4,
            completion_tokens=(len(text) + 3) // 4,
        )


def load_pairs(quick: bool) -> list[dict[str, Any]]:
    pairs: list[dict[str, Any]] = json.loads(PAIRS.read_text("utf-8"))["pairs"]
    if quick:
        pairs = [p for p in pairs if p["id"] in QUICK_IDS]
    return pairs


def _outcome_label(rounds: Sequence[PlanningRound]) -> str:
    valid_at = next((i for i, r in enumerate(rounds) if r.valid), None)
    return f"valid@{valid_at}" if valid_at is not None else "never"


async def plan_one(pair: Mapping[str, Any], llm: LLM, tools: Catalog) -> dict[str, Any]:
    planner = Planner(llm, max_repairs=MAX_REPAIRS)
    started = time.perf_counter()
    history: Sequence[PlanningRound]
    error: dict[str, Any] | None = None
    try:
        outcome = await planner.create_plan(
            pair["goal"], tools, context=pair.get("context"), inputs=pair.get("inputs")
        )
        history = outcome.history
    except PlanningFailed as failure:
        history = failure.history
    except LLMError as llm_error:
        history = ()
        error = {"code": llm_error.code, "message": llm_error.message}
    elapsed_ms = (time.perf_counter() - started) * 1000
    row: dict[str, Any] = {
        "id": pair["id"],
        "kind": pair.get("kind"),
        "goal": pair["goal"],
        "outcome": _outcome_label(history) if error is None else f"llm_error:{error['code']}",
        "rounds": len(history),
        "parsed": [r.parsed for r in history],
        "error_codes": [list(r.error_codes) for r in history],
        "prompt_tokens": sum(r.prompt_tokens for r in history),
        "completion_tokens": sum(r.completion_tokens for r in history),
        "planner_ms": round(elapsed_ms, 3),
        "llm_ms": round(sum(r.latency_s for r in history) * 1000, 3),
    }
    if error is not None:
        row["error"] = error
    if "expect" in pair and isinstance(llm, RecordedLLM):
        row["expect"] = pair["expect"]
        row["as_recorded"] = row["outcome"] == pair["expect"] and llm.asked == len(pair["answers"])
    return row


def summarise(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    goals = len(rows)
    answers = sum(row["rounds"] for row in rows)
    parsed = sum(sum(row["parsed"]) for row in rows)
    first_parsed = sum(1 for row in rows if row["parsed"][:1] == [True])
    valid_after = {
        str(k): _share(sum(1 for row in rows if _valid_by(row, k)), goals) for k in range(MAX_REPAIRS + 1)
    }
    codes: dict[str, int] = {}
    for row in rows:
        for round_codes in row["error_codes"]:
            for code in round_codes:
                codes[code] = codes.get(code, 0) + 1
    return {
        "goals": goals,
        "answers": answers,
        "parse_rate": _share(parsed, answers),
        "first_answer_parse_rate": _share(first_parsed, goals),
        "valid_after_round": valid_after,
        "never_valid": _share(sum(1 for row in rows if row["outcome"] == "never"), goals),
        "llm_errors": sum(1 for row in rows if row["outcome"].startswith("llm_error")),
        "mean_rounds": round(answers / goals, 3) if goals else None,
        "tokens_per_goal": {
            "prompt_mean": _mean([row["prompt_tokens"] for row in rows]),
            "completion_mean": _mean([row["completion_tokens"] for row in rows]),
            "prompt_total": sum(row["prompt_tokens"] for row in rows),
            "completion_total": sum(row["completion_tokens"] for row in rows),
        },
        "planner_ms_median": round(statistics.median(row["planner_ms"] for row in rows), 3) if rows else None,
        "error_codes": dict(sorted(codes.items(), key=lambda item: (-item[1], item[0]))),
    }


def _valid_by(row: Mapping[str, Any], repairs: int) -> bool:
    outcome = str(row["outcome"])
    return outcome.startswith("valid@") and int(outcome.split("@")[1]) <= repairs


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(values: Sequence[int]) -> float | None:
    return round(statistics.fmean(values), 1) if values else None


async def measure(config: Config, llm_factory: Any, progress: bool) -> list[dict[str, Any]]:
    tools = Catalog([demo_source()])
    rows = []
    for pair in load_pairs(config.quick):
        row = await plan_one(pair, llm_factory(pair), tools)
        rows.append(row)
        if progress:
            print(f"  {row['id']}: {row['outcome']} in {row['rounds']} round(s)", file=sys.stderr)
    return rows


def benchmark(
    *,
    quick: bool = False,
    seed: int = 1,
    progress: bool = False,
    llm: str | None = None,
    api_base: str | None = None,
    api_key: str | None = None,
) -> dict[str, Any]:
    """Run every goal (``seed`` is unused: the pairs are fixed) and return the result."""
    del seed
    started = datetime.now(UTC)
    pairs = load_pairs(quick)
    if llm is None:
        factory: Any = lambda pair: RecordedLLM(pair["answers"])  # noqa: E731
        mode, model = "offline", "recorded"
    else:
        client = LiteLLMClient(llm, api_base=api_base, api_key=api_key)
        factory = lambda pair: client  # noqa: E731
        mode, model = "live", llm
    config = Config(
        quick=quick,
        mode=mode,
        model=model,
        api_base=api_base,
        max_repairs=MAX_REPAIRS,
        goals=len(pairs),
        prompt_version=PROMPT_VERSION,
    )
    rows = anyio.run(measure, config, factory, progress)
    result: dict[str, Any] = {
        "benchmark": "planner",
        "schema_version": SCHEMA_VERSION,
        "created_at": started.isoformat(),
        "duration_s": round((datetime.now(UTC) - started).total_seconds(), 2),
        "environment": shared_environment(
            engine_paths=("planner", "schemas", "registry"),
            distributions=("litellm", "pydantic", "jsonschema"),
        ),
        "config": asdict(config),
        "unit": (
            "shares are fractions of goals (valid_after_round, never_valid) or of answers (parse_rate); "
            "tokens per goal summed over its rounds"
            + ("; offline tokens are estimates, characters / 4" if mode == "offline" else "")
        ),
        "summary": summarise(rows),
        "by_kind": {
            kind: summarise([row for row in rows if row["kind"] == kind])
            for kind in dict.fromkeys(str(row["kind"]) for row in rows)
        },
        "goals": rows,
    }
    if mode == "offline":
        mismatched = [row["id"] for row in rows if not row.get("as_recorded")]
        result["checks"] = {"every_goal_as_recorded": not mismatched, "mismatched": mismatched}
    return result
