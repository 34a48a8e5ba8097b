"""The stores' shared JSON encoder writes what ``json.dumps`` with its options writes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from planexec.store._json import dumps


def _reference(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize(
    "value",
    [{}, [], None, True, 0, 2**70, 1.5, 1e100, float("inf"), 'é"\n\t', {"a": [1, {"b": "ü"}], 2: (3, 4)}],
)
def test_documents_are_encoded_as_json_dumps_encodes_them(value: Any) -> None:
    assert dumps(value) == _reference(value)


def test_a_circular_document_is_a_value_error() -> None:
    circular: list[Any] = []
    circular.append(circular)
    with pytest.raises(ValueError, match="Circular"):
        dumps(circular)


def test_a_value_json_cannot_encode_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        dumps({"x": object()})
