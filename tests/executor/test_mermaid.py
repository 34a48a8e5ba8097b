"""Mermaid rendering of plans and runs."""

from __future__ import annotations

from typing import Any

from planexec.executor._mermaid import render_mermaid
from planexec.schemas import PlanObject


def plan() -> PlanObject:
    return PlanObject.model_validate(
        {
            "tasks": {
                "fetch": {
                    "tool_name": "echo",
                    "parameters": {"value": 1},
                    "dependencies": [],
                    "error_handling": {"on_error": "cache"},
                },
                "cache": {"tool_name": "echo", "parameters": {"value": 2}, "dependencies": []},
                "write": {
                    "tool_name": "ledger_write",
                    "parameters": {"key": "k", "value": 1},
                    "dependencies": ["fetch"],
                    "compensation": {"tool_name": "ledger_delete", "parameters": {"key": "k"}},
                },
            }
        }
    )


def test_plan_graph_has_nodes_edges_handlers_and_compensations() -> None:
    text = render_mermaid(plan())
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    assert '    t0["fetch · echo"]' in lines
    assert '    t1{{"cache · echo"}}' in lines  # a handler is drawn as a hexagon
    assert "    t0 --> t2" in lines
    assert "    t0 -. on error .-> t1" in lines
    assert '    t2_undo[["undo · ledger_delete"]]' in lines
    assert "    t2 -. undo .-> t2_undo" in lines
    assert not any(line.strip().startswith("class") for line in lines)


def test_run_graph_colours_tasks_and_compensations_by_status() -> None:
    record: dict[str, Any] = {
        "tasks": {
            "fetch": {"status": "recovered"},
            "cache": {"status": "succeeded"},
            "write": {"status": "compensated", "compensation": {"status": "succeeded"}},
        }
    }
    lines = render_mermaid(plan(), record).splitlines()
    assert "    class t0 recovered" in lines
    assert "    class t1,t2_undo succeeded" in lines
    assert "    class t2 compensated" in lines
    assert any(line.startswith("    classDef compensation_failed ") for line in lines)


def test_labels_are_escaped() -> None:
    quoted = PlanObject.model_validate(
        {"tasks": {"a": {"tool_name": "echo", "description": "x", "parameters": {}, "dependencies": []}}}
    )
    assert '"a · echo"' in render_mermaid(quoted)
    from planexec.executor._mermaid import _label

    assert _label('say "hi" <b>&') == '"say #quot;hi#quot; #lt;b#gt;#amp;"'
