"""``parallelqa``: questions that need several independent look-ups in a fact table, then
arithmetic (after LLMCompiler's ParallelQA, offline).

The fact table describes fictional towns (names made of random syllables; every figure is
synthetic). Question kinds, parallel width 2–5: the sum of one attribute over 2–5 towns;
their average; which has the largest; how many times one figure is another; the combined
population density of two towns (four look-ups). Tools: ``lookup(entity, attribute)``
with a per-fact latency like a search API's (lognormal, median 0.8 s, seeded), and the
math tools ``add``, ``multiply``, ``divide``, ``compare`` (50 ms each).

:func:`generate` builds the bundled ``data/parallelqa.json`` deterministically from a
seed; gold answers are computed from the table directly (not by running the gold plan,
which a test does, to check the two agree).
"""

from __future__ import annotations

import json
import math
import random
from functools import cache
from pathlib import Path
from typing import Any, Literal

import anyio
from typing_extensions import TypedDict

from planexec.registry import Catalog, PythonToolSource, ToolError

from ._suite import Problem, Suite, numbers_match, words

__all__ = ["ATTRIBUTES", "generate", "load"]

DATA = Path(__file__).parent / "data" / "parallelqa.json"
SEED = 8
MATH_LATENCY_S = 0.05

Attribute = Literal["population", "area_km2", "elevation_m", "founded"]
ATTRIBUTES: dict[str, tuple[str, str]] = {
    # attribute: (how a question names it, unit)
    "population": ("population", "people"),
    "area_km2": ("area", "km²"),
    "elevation_m": ("elevation", "m"),
    "founded": ("founding year", "year"),
}
_SYLLABLES = (
    "var hol quel mor tan bri sel dun ka rov lin esk par gul thes ond mir bax cal ven drom ul fen zar".split()
)


class Fact(TypedDict):
    entity: str
    attribute: str
    value: float
    unit: str


def _facts(rng: random.Random, count: int) -> dict[str, dict[str, float]]:
    names: set[str] = set()
    while len(names) < count:
        name = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 3)))).capitalize()
        if 5 <= len(name) <= 11:
            names.add(name)
    table: dict[str, dict[str, float]] = {}
    for name in sorted(names):
        table[name] = {
            "population": float(rng.randrange(20_000, 3_000_000, 10)),
            "area_km2": round(rng.uniform(15.0, 900.0), 1),
            "elevation_m": float(rng.randrange(2, 2400)),
            "founded": float(rng.randrange(900, 1951)),
        }
    return table


def _lookup_task(entity: str, attribute: str) -> dict[str, Any]:
    return {
        "tool_name": "lookup",
        "parameters": {"entity": entity, "attribute": attribute},
        "dependencies": [],
    }


def _lookups(entities: list[str], attribute: str, prefix: str = "l") -> dict[str, dict[str, Any]]:
    return {f"{prefix}{i + 1}": _lookup_task(e, attribute) for i, e in enumerate(entities)}


def _values(ids: list[str]) -> list[str]:
    return [f"$<{i}.output.value>" for i in ids]


def _question(kind: str, entities: list[str], attribute: str, table: dict[str, dict[str, float]]) -> Problem:
    named = ATTRIBUTES[attribute][0]
    towns = words(entities)
    figures = [table[e][attribute] for e in entities]
    thoughts: dict[str, str] = {}
    tasks = _lookups(entities, attribute)
    ids = list(tasks)
    for task_id, entity in zip(ids, entities, strict=True):
        thoughts[task_id] = f"I need the {named} of {entity}."
    if kind == "sum":
        question = f"What is the sum of the {named}s of {towns}?"
        tasks["total"] = {"tool_name": "add", "parameters": {"values": _values(ids)}, "dependencies": ids}
        thoughts["total"] = f"Now I add the {len(ids)} {named}s."
        output = "$<total.output.result>"
        gold: Any = math.fsum(figures)
    elif kind == "average":
        question = f"What is the average {named} of {towns}?"
        tasks["total"] = {"tool_name": "add", "parameters": {"values": _values(ids)}, "dependencies": ids}
        tasks["mean"] = {
            "tool_name": "divide",
            "parameters": {"a": "$<total.output.result>", "b": len(ids)},
            "dependencies": ["total"],
        }
        thoughts["total"] = f"Now I add the {len(ids)} {named}s."
        thoughts["mean"] = f"The average is the total divided by {len(ids)}."
        output = "$<mean.output.result>"
        gold = math.fsum(figures) / len(ids)
    elif kind == "largest":
        question = f"Which of {towns} has the largest {named}?"
        tasks["pick"] = {
            "tool_name": "compare",
            "parameters": {"values": _values(ids), "labels": entities, "mode": "max"},
            "dependencies": ids,
        }
        thoughts["pick"] = f"Now I compare the {named}s."
        output = "$<pick.output.result>"
        gold = max(zip(figures, entities, strict=True))[1]
    elif kind == "ratio":
        question = f"How many times the {named} of {entities[1]} is the {named} of {entities[0]}?"
        tasks["ratio"] = {
            "tool_name": "divide",
            "parameters": {"a": "$<l1.output.value>", "b": "$<l2.output.value>"},
            "dependencies": ["l1", "l2"],
        }
        thoughts["ratio"] = "Now I divide the first figure by the second."
        output = "$<ratio.output.result>"
        gold = figures[0] / figures[1]
    elif kind == "density":
        question = f"What is the combined population density, in people per km², of {towns}?"
        tasks = {**_lookups(entities, "population", "p"), **_lookups(entities, "area_km2", "a")}
        people, areas = (
            [f"p{i + 1}" for i in range(len(entities))],
            [f"a{i + 1}" for i in range(len(entities))],
        )
        for i, entity in enumerate(entities):
            thoughts[people[i]] = f"I need the population of {entity}."
            thoughts[areas[i]] = f"I need the area of {entity}."
        tasks["people"] = {
            "tool_name": "add",
            "parameters": {"values": _values(people)},
            "dependencies": people,
        }
        tasks["area"] = {"tool_name": "add", "parameters": {"values": _values(areas)}, "dependencies": areas}
        tasks["density"] = {
            "tool_name": "divide",
            "parameters": {"a": "$<people.output.result>", "b": "$<area.output.result>"},
            "dependencies": ["people", "area"],
        }
        thoughts["people"] = "Now I add the populations."
        thoughts["area"] = "Now I add the areas."
        thoughts["density"] = "The density is the total population divided by the total area."
        output = "$<density.output.result>"
        gold = math.fsum(table[e]["population"] for e in entities) / math.fsum(
            table[e]["area_km2"] for e in entities
        )
    else:
        raise ValueError(f"unknown question kind {kind!r}")
    return Problem(
        id="",
        question=question,
        gold_plan={"tasks": tasks, "output": output},
        gold_answer=gold,
        thoughts=thoughts,
    )


# (kind, number of towns, how many questions)
_MIX = [
    *[("sum", n, 5) for n in (2, 3, 4, 5)],
    *[("average", n, 5) for n in (2, 3, 4, 5)],
    *[("largest", n, 5) for n in (2, 3, 4, 5)],
    ("ratio", 2, 8),
    ("density", 2, 8),
]


def generate(seed: int = SEED) -> dict[str, Any]:
    """The bundled data set: fact table, look-up latencies, examples and problems."""
    rng = random.Random(seed)
    table = _facts(rng, 40)
    latency = {
        f"{entity}/{attribute}": round(0.8 * math.exp(rng.gauss(0.0, 0.4)), 3)
        for entity in table
        for attribute in ATTRIBUTES
    }
    names = sorted(table)
    problems: list[dict[str, Any]] = []
    for kind, count, repeat in _MIX:
        for _ in range(repeat):
            attribute = rng.choice(
                ["population", "area_km2", "elevation_m"] if kind == "ratio" else list(ATTRIBUTES)
            )
            problem = _question(kind, rng.sample(names, count), attribute, table)
            problems.append({**problem.as_json(), "id": f"pqa-{len(problems) + 1:03d}"})
    examples = [
        {**_question("sum", rng.sample(names, 2), "elevation_m", table).as_json(), "id": "example-1"},
        {**_question("ratio", rng.sample(names, 2), "population", table).as_json(), "id": "example-2"},
        {**_question("largest", rng.sample(names, 3), "area_km2", table).as_json(), "id": "example-3"},
        {**_question("average", rng.sample(names, 2), "founded", table).as_json(), "id": "example-4"},
    ]
    return {
        "about": "Fictional towns; every name and figure is synthetic (seeded). Generated by "
        "benchmarks/agentic/_parallelqa.py; regenerate with `python -m benchmarks.agentic.generate`.",
        "seed": seed,
        "facts": table,
        "lookup_latency_s": latency,
        "examples": examples,
        "problems": problems,
    }


@cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))
    return data


def _source(data: dict[str, Any]) -> PythonToolSource:
    facts: dict[str, dict[str, float]] = data["facts"]
    latency: dict[str, float] = data["lookup_latency_s"]

    async def lookup(entity: str, attribute: Attribute) -> Fact:
        """Look up one figure about a town: population (people), area_km2, elevation_m or
        founded (year). Returns {entity, attribute, value, unit}."""
        await anyio.sleep(latency.get(f"{entity}/{attribute}", 0.8))
        row = facts.get(entity)
        if row is None:
            raise ToolError(f"no town named {entity!r} in the table")
        return Fact(entity=entity, attribute=attribute, value=row[attribute], unit=ATTRIBUTES[attribute][1])

    async def add(values: list[float]) -> float:
        """The sum of a list of numbers."""
        await anyio.sleep(MATH_LATENCY_S)
        return math.fsum(values)

    async def multiply(a: float, b: float) -> float:
        """a times b."""
        await anyio.sleep(MATH_LATENCY_S)
        return a * b

    async def divide(a: float, b: float) -> float:
        """a divided by b."""
        await anyio.sleep(MATH_LATENCY_S)
        if b == 0:
            raise ToolError("division by zero")
        return a / b

    async def compare(values: list[float], labels: list[str], mode: Literal["max", "min"]) -> str:
        """The label of the largest (mode "max") or smallest ("min") value."""
        await anyio.sleep(MATH_LATENCY_S)
        if len(values) != len(labels) or not values:
            raise ToolError("values and labels must be non-empty lists of one length")
        pairs = list(zip(values, labels, strict=True))
        return (max(pairs) if mode == "max" else min(pairs))[1]

    return PythonToolSource("parallelqa", [lookup, add, multiply, divide, compare])


def _check(problem: Problem, answer: str) -> bool:
    gold = problem.gold_answer
    if isinstance(gold, str):
        return answer.strip().lower() == gold.lower()
    return numbers_match(answer, float(gold))


def load() -> Suite:
    data = _data()
    return Suite(
        name="parallelqa",
        description="look-ups in a fact table of fictional towns plus math tools, widths 2-5",
        problems=[Problem.from_json(p) for p in data["problems"]],
        examples=[Problem.from_json(p) for p in data["examples"]],
        catalog=lambda: Catalog([_source(data)]),
        check=_check,
        final_answer=True,
    )
