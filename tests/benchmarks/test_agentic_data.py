"""The agentic suites' data: bundled files are what the generators write, every gold plan
validates against its suite's tools, running it gives the gold answer, and Game of 24
answers are checked with exact arithmetic."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from planexec.benchmarks.agentic import _game24, _parallelqa
from planexec.benchmarks.agentic._planned import EPOCH, AnyioClock
from planexec.benchmarks.agentic._suite import Problem, Suite, answer_text
from planexec.benchmarks.agentic._suites import SUITES, load_suite
from planexec.benchmarks.agentic.generate import render
from planexec.executor import Executor, RunStatus
from planexec.planner import validate_plan

pytest.importorskip("trio")
from trio.testing import MockClock  # noqa: E402


@pytest.fixture(scope="module", params=SUITES)
def suite(request: pytest.FixtureRequest) -> Suite:
    return load_suite(request.param)


@pytest.mark.parametrize("module", [_parallelqa, _game24], ids=["parallelqa", "game24"])
def test_bundled_data_is_what_the_generator_writes(module: Any) -> None:
    assert module.DATA.read_text(encoding="utf-8") == render(module.generate())


def test_every_gold_plan_validates_against_the_suite_tools(suite: Suite) -> None:
    catalog = suite.catalog()
    for problem in [*suite.problems, *suite.examples]:
        result = validate_plan(problem.gold_plan, catalog)
        assert result.valid, (problem.id, [p.as_json() for p in result.errors])
        assert result.warnings == [] or {str(w.code) for w in result.warnings} == {"assigned_plan_id"}


def _run_gold(suite: Suite, problems: list[Problem]) -> list[tuple[RunStatus, Any]]:
    async def main() -> list[tuple[RunStatus, Any]]:
        catalog = suite.catalog()
        executor = Executor(catalog, clock=AnyioClock(EPOCH))
        out = []
        for problem in problems:
            result = validate_plan(problem.gold_plan, catalog)
            assert result.plan is not None
            record = await executor.run(result.plan, problem.inputs)
            out.append((record.status, record.output))
        return out

    runs: list[tuple[RunStatus, Any]] = anyio.run(
        main, backend="trio", backend_options={"clock": MockClock(autojump_threshold=0)}
    )
    return runs


def test_running_each_gold_plan_gives_the_gold_answer(suite: Suite) -> None:
    problems = [*suite.problems, *suite.examples]
    for problem, (status, output) in zip(problems, _run_gold(suite, problems), strict=True):
        assert status is RunStatus.SUCCEEDED, problem.id
        assert suite.check(problem, answer_text(output)), (problem.id, output, problem.gold_answer)
        if isinstance(problem.gold_answer, str):
            assert output == problem.gold_answer
        else:
            assert output == pytest.approx(problem.gold_answer, rel=1e-9, abs=1e-9)


def test_parallelqa_covers_widths_two_to_five() -> None:
    suite = load_suite("parallelqa")
    assert {p.width for p in suite.problems} == {2, 3, 4, 5}
    assert 60 <= len(suite.problems) <= 113


def test_game24_has_100_distinct_solvable_puzzles_with_exact_gold_answers() -> None:
    suite = load_suite("game24")
    numbers = [tuple(p.gold_plan["tasks"]["check"]["parameters"]["numbers"]) for p in suite.problems]
    assert len(numbers) == 100 == len(set(numbers))
    for problem, puzzle in zip(suite.problems, numbers, strict=True):
        value, leaves = _game24.evaluate_expression(problem.gold_answer)
        assert value == 24 and sorted(leaves) == sorted(puzzle)
        assert suite.check(problem, problem.gold_answer)


@pytest.mark.parametrize(
    ("answer", "right"),
    [
        ("((3 * 9) - (1 + 2))", True),
        ("3*9-1-2", True),
        ("(9 - 1) * 3 * 1", False),  # 24, but 1 twice and no 2
        ("12 * 2", False),  # 24, but not the puzzle's numbers
        ("((3 * 9) - (1 + 2)) + 0", False),  # an extra number
        ("(3 * 9) - (1 * 2)", False),  # 25
        ("9 / (2 - 2 * 1) + 3", False),  # division by zero
        ("__import__('os')", False),
        ("twenty-four", False),
    ],
)
def test_game24_check_is_exact_arithmetic_on_the_puzzle_numbers(answer: str, right: bool) -> None:
    problem = next(p for p in load_suite("game24").problems if p.id == "g24-001")
    assert problem.gold_plan["tasks"]["check"]["parameters"]["numbers"] == [1, 2, 3, 9]
    assert load_suite("game24").check(problem, answer) is right


def test_game24_check_uses_fractions_not_floats() -> None:
    # 8 / (3 - 8/3) = 24 exactly; floating point gives 23.999999999999993
    problem = Problem(
        id="x",
        question="",
        gold_plan={"tasks": {"check": {"parameters": {"numbers": [3, 3, 8, 8]}}}},
        gold_answer="",
    )
    assert load_suite("game24").check(problem, "8 / (3 - 8 / 3)")
    assert 8 / (3 - 8 / 3) != 24
