"""``game24``: make 24 from four numbers with + - * / (each number used once).

100 puzzles drawn from a seed (four numbers 1–13, solvable ones only, no repeats) and
bundled in ``data/game24.json`` with a gold solution each, found by exhaustive search.
Tools, all deterministic and exact (``fractions.Fraction``):

- ``propose(numbers)``: candidate first steps — every way to combine two of the numbers,
  those from which 24 is still reachable first, at most 8;
- ``apply_op(left, op, right)``: combine two expressions, giving the new expression and
  its value;
- ``evaluate(expression, numbers)``: the expression's value, whether it uses exactly the
  given numbers and whether it makes 24.

The gold plan proposes, applies the three operations of the gold solution (the two
independent ones of ``(a op b) op (c op d)`` side by side) and evaluates the result.
An answer is right when it parses as an arithmetic expression over exactly the puzzle's
numbers whose exact value is 24.
"""

from __future__ import annotations

import ast
import itertools
import json
import random
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any, Literal

import anyio
from typing_extensions import TypedDict

from planexec.registry import Catalog, PythonToolSource, ToolError

from ._suite import Problem, Suite

__all__ = ["evaluate_expression", "generate", "load", "solve"]

DATA = Path(__file__).parent / "data" / "game24.json"
SEED = 24
TOOL_LATENCY_S = 0.05
MAX_PROPOSALS = 8
Op = Literal["+", "-", "*", "/"]
_OPS: dict[type[ast.operator], str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


def _apply(a: Fraction, op: str, b: Fraction) -> Fraction | None:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return a / b if b != 0 else None


def _eval(node: ast.expr, leaves: list[int]) -> Fraction:
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        result = _apply(_eval(node.left, leaves), _OPS[type(node.op)], _eval(node.right, leaves))
        if result is None:
            raise ZeroDivisionError("division by zero")
        return result
    if isinstance(node, ast.Constant) and type(node.value) is int:
        leaves.append(node.value)
        return Fraction(node.value)
    raise ValueError("only integers, + - * / and parentheses are allowed")


def evaluate_expression(expression: str) -> tuple[Fraction, list[int]]:
    """The exact value of an arithmetic expression and the integers it uses, in order.
    Raises ValueError (or ZeroDivisionError) for anything else."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as error:
        raise ValueError(f"not an expression: {expression!r}") from error
    leaves: list[int] = []
    return _eval(tree.body, leaves), leaves


def _value_text(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


# A node of a solution: an int leaf, or (left, op, right).
Tree = int | tuple[Any, str, Any]


def solve(numbers: list[int]) -> Tree | None:
    """A solution of the puzzle, found by trying pairs in order (deterministic), or None."""
    items: list[tuple[Fraction, Tree]] = [(Fraction(n), n) for n in numbers]
    return _search(items)


def _search(items: list[tuple[Fraction, Tree]]) -> Tree | None:
    if len(items) == 1:
        return items[0][1] if items[0][0] == 24 else None
    for i, j in itertools.permutations(range(len(items)), 2):
        rest = [items[k] for k in range(len(items)) if k not in (i, j)]
        for op in "+-*/":
            if op in "+*" and i > j:
                continue  # commutative: (a op b) was tried already
            value = _apply(items[i][0], op, items[j][0])
            if value is None:
                continue
            found = _search([*rest, (value, (items[i][1], op, items[j][1]))])
            if found is not None:
                return found
    return None


def _text(tree: Tree) -> str:
    if isinstance(tree, int):
        return str(tree)
    left, op, right = tree
    return f"({_text(left)} {op} {_text(right)})"


def _gold(numbers: list[int], tree: Tree) -> Problem:
    tasks: dict[str, Any] = {
        "propose": {
            "tool_name": "propose",
            "parameters": {"numbers": [str(n) for n in numbers]},
            "dependencies": [],
        }
    }
    thoughts = {"propose": "Let me see which first steps keep 24 reachable."}

    def emit(node: Tree) -> str:
        """The parameter that stands for ``node``: a literal for a number, else a reference."""
        if isinstance(node, int):
            return str(node)
        left, op, right = node
        left_ref, right_ref = emit(left), emit(right)
        task_id = f"step{sum(1 for t in tasks if t.startswith('step')) + 1}"
        deps = sorted({r[2:].split(".")[0] for r in (left_ref, right_ref) if r.startswith("$<")}) or [
            "propose"
        ]
        tasks[task_id] = {
            "tool_name": "apply_op",
            "parameters": {"left": left_ref, "op": op, "right": right_ref},
            "dependencies": deps,
        }
        thoughts[task_id] = f"Combine {_text(left)} and {_text(right)} with {op}."
        return f"$<{task_id}.output.expression>"

    final = emit(tree)
    final_id = final[2:].split(".")[0]
    tasks["check"] = {
        "tool_name": "evaluate",
        "parameters": {"expression": final, "numbers": numbers},
        "dependencies": [final_id],
    }
    thoughts["check"] = "Check that the expression makes 24 with the four numbers."
    return Problem(
        id="",
        question=f"Use the numbers {' '.join(map(str, numbers))} and basic arithmetic operations "
        "(+ - * /) to obtain 24. Use each number exactly once. Answer with the expression.",
        gold_plan={"tasks": tasks, "output": final},
        gold_answer=_text(tree),
        thoughts=thoughts,
    )


def generate(seed: int = SEED, count: int = 100) -> dict[str, Any]:
    """The bundled data set: ``count`` solvable puzzles and four worked examples."""
    rng = random.Random(seed)
    seen: set[tuple[int, ...]] = set()
    puzzles: list[dict[str, Any]] = []
    examples: list[dict[str, Any]] = []
    while len(puzzles) < count or len(examples) < 4:
        numbers = sorted(rng.randint(1, 13) for _ in range(4))
        if tuple(numbers) in seen:
            continue
        seen.add(tuple(numbers))
        tree = solve(numbers)
        if tree is None:
            continue
        problem = _gold(numbers, tree).as_json()
        if len(examples) < 4:
            examples.append({**problem, "id": f"example-{len(examples) + 1}"})
        else:
            puzzles.append({**problem, "id": f"g24-{len(puzzles) + 1:03d}", "numbers": numbers})
    return {
        "about": "Solvable Game of 24 puzzles drawn from a seed; generated by benchmarks/agentic/_game24.py "
        "(regenerate with `python -m benchmarks.agentic.generate`).",
        "seed": seed,
        "examples": examples,
        "problems": puzzles,
    }


class Proposal(TypedDict):
    expression: str
    value: str
    remaining: list[str]


class Proposals(TypedDict):
    candidates: list[Proposal]


class Step(TypedDict):
    expression: str
    value: str


class Verdict(TypedDict):
    value: str
    uses_numbers: bool
    solves: bool


def _parse(expression: str) -> Fraction:
    try:
        return evaluate_expression(expression)[0]
    except (ValueError, ZeroDivisionError) as error:
        raise ToolError(f"cannot evaluate {expression!r}: {error}") from None


async def propose(numbers: list[str]) -> Proposals:
    """Candidate next steps for the numbers (or expressions) left: each combines two of
    them; those from which 24 stays reachable come first; at most 8."""
    await anyio.sleep(TOOL_LATENCY_S)
    values = [_parse(n) for n in numbers]
    reachable: list[Proposal] = []
    others: list[Proposal] = []
    for i, j in itertools.combinations(range(len(numbers)), 2):
        rest = [numbers[k] for k in range(len(numbers)) if k not in (i, j)]
        for (a, x), (b, y) in (((i, values[i]), (j, values[j])), ((j, values[j]), (i, values[i]))):
            for op in "+-*/":
                value = _apply(x, op, y)
                if value is None or (op in "+*" and a > b):
                    continue
                expression = f"({numbers[a]} {op} {numbers[b]})"
                proposal = Proposal(
                    expression=expression, value=_value_text(value), remaining=[expression, *rest]
                )
                leaves: list[tuple[Fraction, Tree]] = [(value, 0), *((_parse(r), 0) for r in rest)]
                (reachable if _search(leaves) is not None else others).append(proposal)
    return Proposals(candidates=(reachable + others)[:MAX_PROPOSALS])


async def apply_op(left: str, op: Op, right: str) -> Step:
    """Combine two numbers or expressions with + - * or /: the new expression and its value."""
    await anyio.sleep(TOOL_LATENCY_S)
    value = _apply(_parse(left), op, _parse(right))
    if value is None:
        raise ToolError("division by zero")
    return Step(expression=f"({left} {op} {right})", value=_value_text(value))


async def evaluate(expression: str, numbers: list[int]) -> Verdict:
    """An expression's exact value, whether it uses exactly the given numbers (each once)
    and whether it makes 24."""
    await anyio.sleep(TOOL_LATENCY_S)
    try:
        value, leaves = evaluate_expression(expression)
    except (ValueError, ZeroDivisionError) as error:
        raise ToolError(f"cannot evaluate {expression!r}: {error}") from None
    uses = sorted(leaves) == sorted(numbers)
    return Verdict(value=_value_text(value), uses_numbers=uses, solves=uses and value == 24)


def _check(problem: Problem, answer: str) -> bool:
    """Exact arithmetic: the answer uses the puzzle's numbers, each once, and equals 24."""
    numbers = problem.gold_plan["tasks"]["check"]["parameters"]["numbers"]
    try:
        value, leaves = evaluate_expression(answer.replace("×", "*").replace("÷", "/"))
    except (ValueError, ZeroDivisionError):
        return False
    return value == 24 and sorted(leaves) == sorted(numbers)


@cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))
    return data


def load() -> Suite:
    data = _data()
    return Suite(
        name="game24",
        description="Game of 24: propose, apply_op and evaluate tools, exact arithmetic",
        problems=[Problem.from_json(p) for p in data["problems"]],
        examples=[Problem.from_json(p) for p in data["examples"]],
        catalog=lambda: Catalog([PythonToolSource("game24", [propose, apply_op, evaluate])]),
        check=_check,
        final_answer=False,
    )
