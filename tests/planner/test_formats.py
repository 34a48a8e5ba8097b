"""The JSON and YAML (node) forms of one plan normalise to the same PlanObject."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from planexec.planner import load_plan, validate_plan
from planexec.registry import Catalog
from planexec.schemas import WarningCode

CANONICAL = {
    "plan_id": "0b6c7c3c-5f0e-4a44-9a55-2d0f1e1f7a10",
    "inputs": {"word": "hi"},
    "metadata": {"id": "0b6c7c3c-5f0e-4a44-9a55-2d0f1e1f7a10"},
    "tasks": {
        "extract": {
            "tool_name": "echo",
            "parameters": {"value": "$<inputs.word>"},
            "dependencies": [],
            "timeout_s": 30,
            "retry": {"max_attempts": 3, "backoff": 2.0},
        },
        "left-analysis": {
            "tool_name": "echo",
            "parameters": {"value": "$<extract.output.result>"},
            "dependencies": ["extract"],
            "error_handling": {"on_error": "left-analysis__on_error"},
        },
        "right-analysis": {
            "tool_name": "echo",
            "parameters": {"value": "$<extract.output.result>"},
            "dependencies": ["extract"],
            "error_handling": {"on_error": "right-analysis__on_error"},
        },
        "left-analysis__on_error": {
            "tool_name": "echo",
            "description": "error handler of left-analysis",
            "parameters": {"value": "fallback"},
            "dependencies": ["extract"],
        },
        "right-analysis__on_error": {
            "tool_name": "echo",
            "description": "error handler of right-analysis",
            "parameters": {"value": "fallback"},
            "dependencies": ["extract"],
        },
        "aggregate": {
            "tool_name": "concat",
            "parameters": {"parts": ["$<left-analysis.output.result>", "$<right-analysis.output.result>"]},
            "dependencies": ["left-analysis", "right-analysis"],
        },
    },
}

NODE_FORM = """
PlanSpecification:
  version: "1.0.0"
  metadata:
    id: "0b6c7c3c-5f0e-4a44-9a55-2d0f1e1f7a10"
  inputs: {word: hi}
  nodes:
    - id: extract
      type: tool_execution
      tool: echo
      parameters: {value: "${input.word}"}
      timeout: 30
      retry: {max_attempts: 3, backoff: exponential}
    - id: analysis
      type: parallel_group
      children:
        - id: left-analysis
          tool: echo
          parameters: {value: "${extract.output.result}"}
        - id: right-analysis
          tool: echo
          parameters: {value: "${extract.output.result}"}
    - id: aggregate
      tool: concat
      dependencies: [analysis]
      parameters:
        parts: ["${left-analysis.output.result}", "${right-analysis.output.result}"]
  error_handlers:
    - trigger: node_failure
      node_pattern: "*-analysis"
      action: {type: compensate, handler: echo, parameters: {value: fallback}}
  edges:
    - {from: extract, to: analysis, condition: "extract.status == 'success'"}
"""


def test_json_and_yaml_forms_normalise_equal(tmp_path: Path, demo_tools: Catalog) -> None:
    json_file = tmp_path / "plan.json"
    yaml_file = tmp_path / "plan.yml"
    json_file.write_text(json.dumps(CANONICAL))
    yaml_file.write_text(NODE_FORM)
    from_json = validate_plan(load_plan(str(json_file))[0], demo_tools)
    from_yaml = validate_plan(load_plan(str(yaml_file))[0], demo_tools)
    assert from_json.valid, from_json.errors
    assert from_yaml.valid, from_yaml.errors
    assert from_yaml.plan == from_json.plan
    assert WarningCode.CONVERTED_FORMAT in {w.code for w in from_yaml.warnings}
    assert WarningCode.NORMALIZED_REFERENCE in {w.code for w in from_yaml.warnings}


def test_canonical_yaml_equals_canonical_json(tmp_path: Path, demo_tools: Catalog) -> None:
    yaml_file = tmp_path / "plan.yaml"
    yaml_file.write_text(yaml.safe_dump(CANONICAL))
    result = validate_plan(load_plan(str(yaml_file))[0], demo_tools)
    assert result.valid and result.plan is not None
    assert result.plan.to_json() == validate_plan(CANONICAL, demo_tools).plan.to_json()  # type: ignore[union-attr]
